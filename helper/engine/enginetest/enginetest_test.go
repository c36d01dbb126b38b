package enginetest

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
)

// TestFakeModel checks the fake behaves as the System contract and the
// kernel do: adding what exists fails, changing a missing link fails,
// deleting a link deletes what goes with it and deleting what is gone
// succeeds.
func TestFakeModel(t *testing.T) {
	ctx := context.Background()
	s := New()
	before := s.State()
	rule := &plan.Rule{Family: plan.IPv4, Priority: 32765, Table: 51820, SuppressPrefixlen: -1}
	route := &plan.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Table: 51820}
	steps := []plan.Op{
		{Kind: plan.LinkAdd, Link: "wg0"},
		{Kind: plan.AddrAdd, Link: "wg0", Addr: netip.MustParsePrefix("192.0.2.2/24")},
		{Kind: plan.LinkUp, Link: "wg0", MTU: 1420},
		{Kind: plan.RouteAdd, Link: "wg0", Route: route},
		{Kind: plan.RuleAdd, Link: "wg0", Rule: rule},
	}
	for _, op := range steps {
		if _, err := s.Apply(ctx, op); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	if _, err := s.Apply(ctx, steps[0]); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("adding the link twice: %v, want EEXIST", err)
	}
	if _, err := s.Apply(ctx, steps[4]); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("adding the rule twice: %v, want EEXIST", err)
	}
	if _, err := s.Apply(ctx, plan.Op{Kind: plan.AddrAdd, Link: "wg9", Addr: netip.MustParsePrefix("198.51.100.2/24")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("address on a missing link: %v, want ErrNotExist", err)
	}
	f, err := s.Facts(ctx, "wg1", emptyConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !f.UsedTables[51820] || !cmp.Equal(f.RulePrefs4, []uint32{0, 32765, 32766, 32767}) {
		t.Errorf("facts do not show the applied route and rule: tables %v, prefs %v", f.UsedTables, f.RulePrefs4)
	}
	if _, err := s.Facts(ctx, "wg0", emptyConfig()); err == nil {
		t.Error("Facts of an existing link succeeded")
	}
	if d, err := s.Device("wg0"); err == nil {
		t.Errorf("an unconfigured link has a device: %+v", d)
	}
	for range 2 { // the second time, everything is gone already
		for _, op := range []plan.Op{{Kind: plan.RuleDel, Link: "wg0", Rule: rule}, {Kind: plan.LinkDel, Link: "wg0"}} {
			if _, err := s.Apply(ctx, op); err != nil {
				t.Errorf("%s: %v", op, err)
			}
		}
	}
	if diff := cmp.Diff(before, s.State()); diff != "" {
		t.Errorf("state after deleting (-before +after):\n%s", diff)
	}
	if got := len(s.Log()); got != len(steps)+3+4 {
		t.Errorf("logged %d Applies, want %d:\n%v", got, len(steps)+7, s.Log())
	}
}

// TestFakeFailures checks that an armed failure fires once, on the Nth
// matching Apply, before or after the change.
func TestFakeFailures(t *testing.T) {
	ctx := context.Background()
	s := New()
	s.Fail(Failure{Kind: plan.AddrAdd, Nth: 2, After: true})
	s.Fail(Failure{Kind: plan.LinkAdd})
	add := func(link, addr string) error {
		_, err := s.Apply(ctx, plan.Op{Kind: plan.AddrAdd, Link: link, Addr: netip.MustParsePrefix(addr)})
		return err
	}
	if _, err := s.Apply(ctx, plan.Op{Kind: plan.LinkAdd, Link: "wg0"}); !errors.Is(err, ErrInjected) {
		t.Fatalf("first link-add: %v, want the injected failure", err)
	}
	if len(s.Links()) != 0 {
		t.Fatalf("a failure before the change made it: %v", s.Links())
	}
	if _, err := s.Apply(ctx, plan.Op{Kind: plan.LinkAdd, Link: "wg0"}); err != nil {
		t.Fatalf("second link-add: %v", err)
	}
	if err := add("wg0", "192.0.2.1/24"); err != nil {
		t.Fatalf("first addr-add: %v", err)
	}
	if err := add("wg0", "192.0.2.2/24"); !errors.Is(err, ErrInjected) {
		t.Fatalf("second addr-add: %v, want the injected failure", err)
	}
	if err := add("wg0", "192.0.2.2/24"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("a failure after the change did not make it: %v", err)
	}
	want := []string{
		"link add wg0 type wireguard (failed before the change)",
		"link add wg0 type wireguard",
		"addr add -4 192.0.2.1/24 dev wg0",
		"addr add -4 192.0.2.2/24 dev wg0 (failed after the change)",
		"addr add -4 192.0.2.2/24 dev wg0 (error: add addr 192.0.2.2/24 dev wg0: file exists)",
	}
	if diff := cmp.Diff(want, s.Log()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func emptyConfig() *config.Config { return &config.Config{} }
