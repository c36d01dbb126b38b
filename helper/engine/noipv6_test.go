package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine/enginetest"
	"github.com/wgtray/wgtray/helper/plan"
)

// TestFakeNoIPv6 brings an IPv4 full tunnel up on a machine booted with
// ipv6.disable=1, where every IPv6 netlink request fails with
// EAFNOSUPPORT: as with wg-quick it connects, with no IPv6 rule, route or
// nftables table, and the plan says why the leak guard has nothing to
// guard. On a machine with IPv6 the same config gets the IPv6 guard.
func TestFakeNoIPv6(t *testing.T) {
	cfg, err := config.Parse([]byte(enginetest.Full4Config(newKey(t), newKey(t))))
	if err != nil {
		t.Fatal(err)
	}
	for _, noIPv6 := range []bool{false, true} {
		t.Run(fmt.Sprintf("noIPv6=%v", noIPv6), func(t *testing.T) {
			sys, dir := newFake(), t.TempDir()
			if noIPv6 {
				sys.DisableIPv6()
			}
			e := newEngine(t, sys, plan.Options{}, dir)
			before := sys.State()
			p, err := e.Up(t.Context(), "v4", cfg)
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			six := 0
			for _, l := range sys.Log() {
				if strings.Contains(l, "-6 ") || strings.Contains(l, " ip6 ") {
					six++
				}
			}
			switch {
			case noIPv6 && (six != 0 || p.Unguarded != plan.NoIPv6Reason || len(p.Blocked) != 0):
				t.Errorf("without IPv6: %d IPv6 operations, Unguarded %q, Blocked %v", six, p.Unguarded, p.Blocked)
			case !noIPv6 && (six == 0 || p.Unguarded != "" || len(p.Blocked) != 1):
				t.Errorf("with IPv6: %d IPv6 operations, Unguarded %q, Blocked %v; want the IPv6 guard", six, p.Unguarded, p.Blocked)
			}
			if err := e.Down(t.Context(), "v4"); err != nil {
				t.Fatal(err)
			}
			diffState(t, "after Down", before, sys.State())
		})
	}
	// The fake really refuses IPv6, so that the test above can fail.
	sys := newFake()
	sys.DisableIPv6()
	_, err = sys.Apply(t.Context(), plan.Op{Kind: plan.RuleAdd, Link: "v4", Rule: &plan.Rule{Family: plan.IPv6, Priority: 1, SuppressPrefixlen: -1}})
	if !errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Errorf("IPv6 rule on a machine without IPv6: %v, want EAFNOSUPPORT", err)
	}
}
