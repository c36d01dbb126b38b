package ipc

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, n := range []string{"wg0", "a", "x_y=z+1.2-3", "123456789012345", "...", ".a", "a..", "-", "+"} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", ".", "..", "../x", "a/b", "1234567890123456", "a b", "a\nb", "a\x00b", "é", "wg0.conf/", "a:b", "a%b"} {
		err := ValidName(n)
		if err == nil {
			t.Errorf("ValidName(%q) accepted", n)
			continue
		}
		if len(n) > 3 && strings.Contains(err.Error(), n) {
			t.Errorf("ValidName(%q) = %q quotes the name", n, err)
		}
	}
}

// TestMaxConfigSize pins the limit: the helper's and the clients' messages
// call it 64 KiB.
func TestMaxConfigSize(t *testing.T) {
	if MaxConfigSize != 64*1024 {
		t.Errorf("MaxConfigSize = %d, want 64 KiB", MaxConfigSize)
	}
}
