package engine

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoIPv6Detection checks that the answer of a kernel booted with
// ipv6.disable=1 to an IPv6 rule listing, as rulePrefs wraps it, is seen
// as "no IPv6", and other errors are not.
func TestNoIPv6Detection(t *testing.T) {
	if !noIPv6(fmt.Errorf("list rules: %w", unix.EAFNOSUPPORT)) {
		t.Error("EAFNOSUPPORT is not seen as a kernel without IPv6")
	}
	for _, err := range []error{nil, fmt.Errorf("list rules: %w", unix.EPERM)} {
		if noIPv6(err) {
			t.Errorf("%v is seen as a kernel without IPv6", err)
		}
	}
}
