package firewall

import (
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	vnetns "github.com/vishvananda/netns"

	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/testenv/netns"
)

func blockerIn(t *testing.T, ns string, owner bool) *Blocker {
	t.Helper()
	h, err := vnetns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	b := NewBlockerIn(owner, int(h))
	t.Cleanup(b.Close)
	return b
}

var testBlocking = plan.Blocking{Tunnels: []plan.Block{{Link: "wg0", Mark: 51820, AllowLAN: true,
	Endpoints: []netip.AddrPort{netip.MustParseAddrPort("198.51.100.1:51820"), netip.MustParseAddrPort("[2001:db8:1::1]:51820")},
	DNS:       []netip.Addr{netip.MustParseAddr("203.0.113.1")}}}}

var testLAN = plan.BlockFacts{LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}

// TestBlockRulesetAsNftSeesIt: nft lists every rule of the block as its
// String says, in order; Delete leaves an empty ruleset.
func TestBlockRulesetAsNftSeesIt(t *testing.T) {
	ns, _ := newNS(t)
	b := blockerIn(t, ns, true)
	rules := plan.BlockRules(testBlocking, testLAN)
	if err := b.Set(rules); err != nil {
		t.Fatal(err)
	}
	got := ruleset(t, ns)
	golden := "testdata/block-ruleset.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("nft list ruleset (-want +got):\n%s", diff)
	}
	if n := strings.Count(got, "\n\t\t") - 3; n != len(rules) { // less the chains' type lines
		t.Errorf("nft lists %d rules, want %d", n, len(rules))
	}
	if !strings.Contains(got, "flags owner") { // Debian 12's nft does not name persist
		t.Errorf("table without the owner and persist flags:\n%s", got)
	}
	if ok, err := b.Intact(); !ok || err != nil {
		t.Errorf("Intact = %v, %v", ok, err)
	}
	// A second Set replaces, never appends.
	if err := b.Set(rules[:5]); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(ruleset(t, ns), "accept"); n != 5+3 { // and the 3 chains' policies
		t.Errorf("%d accepting rules after a smaller Set, want 5", n)
	}
	if err := b.Delete(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(ruleset(t, ns)); got != "" {
		t.Errorf("ruleset after Delete:\n%s", got)
	}
	if err := b.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

var updateGolden = flag.Bool("update", false, "rewrite the golden files")

// TestBlockOwnerPersist records the kernel's behaviour with the owner and
// persist flags: while the owner lives, nft flush ruleset and nft delete
// table leave the table; when it is gone (socket closed) the table stays;
// a new Blocker adopts it and can delete it.
func TestBlockOwnerPersist(t *testing.T) {
	ns, _ := newNS(t)
	b := blockerIn(t, ns, true)
	if err := b.Set(plan.BlockRules(testBlocking, testLAN)); err != nil {
		t.Fatal(err)
	}
	if !b.Owned() {
		t.Fatal("this kernel (6.9+ expected) refused NFT_TABLE_F_OWNER|NFT_TABLE_F_PERSIST")
	}
	netns.MustRun(t, ns, "nft", "flush", "ruleset")
	if !strings.Contains(ruleset(t, ns), "table inet wgtray") {
		t.Fatal("nft flush ruleset removed an owned table")
	}
	if out, err := netns.Run(ns, "nft", "delete", "table", "inet", "wgtray"); err == nil {
		t.Fatalf("nft delete table of an owned table succeeded: %s", out)
	}
	b.Close()
	if !strings.Contains(ruleset(t, ns), "table inet wgtray") {
		t.Fatal("the persist table went with its owner")
	}
	// An orphan is not protected: nft flush ruleset takes it. Put it back
	// as a dead helper leaves it, for the adoption below.
	netns.MustRun(t, ns, "nft", "flush", "ruleset")
	if strings.Contains(ruleset(t, ns), "table inet wgtray") {
		t.Log("nft flush ruleset leaves an orphaned persist table too")
	} else {
		t.Log("nft flush ruleset removes an orphaned persist table")
		b1 := blockerIn(t, ns, true)
		if err := b1.Set(plan.BlockRules(testBlocking, testLAN)); err != nil {
			t.Fatal(err)
		}
		b1.Close()
	}
	b2 := blockerIn(t, ns, true)
	if err := b2.Set(plan.BlockRules(testBlocking, testLAN)); err != nil {
		t.Fatalf("adopting the orphan: %v", err)
	}
	if err := b2.Delete(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(ruleset(t, ns)); got != "" {
		t.Errorf("ruleset after Delete:\n%s", got)
	}
}

// TestBlockWatchRepairs: without the owner flags (the fallback), nft
// flush ruleset and nft delete table take the table away, and the watch
// puts it back, through netlink notifications, within a second.
func TestBlockWatchRepairs(t *testing.T) {
	ns, _ := newNS(t)
	b := blockerIn(t, ns, false)
	rules := plan.BlockRules(testBlocking, testLAN)
	if err := b.Set(rules); err != nil {
		t.Fatal(err)
	}
	repairs := make(chan Repair, 10)
	w, err := NewWatch(b, func(r Repair) { repairs <- r }, func(err error) { t.Errorf("watch: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, cmd := range [][]string{{"flush", "ruleset"}, {"delete", "table", "inet", "wgtray"}, {"flush", "table", "inet", "wgtray"}, {"delete", "chain", "inet", "wgtray", "forward"}} {
		start := time.Now()
		netns.MustRun(t, ns, "nft", cmd...)
		select {
		case r := <-repairs:
			if r.Error != nil {
				t.Fatalf("nft %v: repair failed: %v", cmd, r.Error)
			}
			window := time.Since(start)
			t.Logf("nft %s: table back %v after nft returned (repair itself %v)", strings.Join(cmd, " "), window.Round(time.Microsecond), r.Took.Round(time.Microsecond))
			if window > time.Second {
				t.Errorf("nft %v: repaired after %v, want within 1 s", cmd, window)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("nft %v: no repair within 10 s", cmd)
		}
		if ok, err := b.Intact(); !ok || err != nil {
			t.Errorf("after repair: Intact = %v, %v", ok, err)
		}
	}
	// Our own changes are no repairs.
	if err := b.Set(rules[:3]); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	select {
	case r := <-repairs:
		t.Errorf("a repair after our own change: %+v", r)
	default:
	}
}
