package firewall

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/wgtray/wgtray/helper/testnet"
)

// connIn opens nftables on namespace ns without moving any thread there.
func connIn(t testing.TB, ns string) *nftables.Conn {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ruleset(t testing.TB, ns string) string {
	t.Helper()
	return testnet.MustRun(t, ns, "nft", "list", "ruleset")
}

// wgQuickCommands is what wg-quick feeds `nft -f` for one family.
func wgQuickCommands(s Spec, table string) string {
	pf := s.Family.String()
	var b strings.Builder
	fmt.Fprintf(&b, "add table %s %s\n", pf, table)
	fmt.Fprintf(&b, "add chain %s %s preraw { type filter hook prerouting priority -300; }\n", pf, table)
	fmt.Fprintf(&b, "add chain %s %s premangle { type filter hook prerouting priority -150; }\n", pf, table)
	fmt.Fprintf(&b, "add chain %s %s postmangle { type filter hook postrouting priority -150; }\n", pf, table)
	for _, a := range s.Addrs {
		fmt.Fprintf(&b, "add rule %s %s preraw iifname != \"%s\" %s daddr %s fib saddr type != local drop\n", pf, table, s.Interface, pf, a)
	}
	fmt.Fprintf(&b, "add rule %s %s postmangle meta l4proto udp mark %d ct mark set mark \n", pf, table, s.Mark)
	fmt.Fprintf(&b, "add rule %s %s premangle meta l4proto udp meta mark set ct mark \n", pf, table)
	return b.String()
}

func TestParityWithNft(t *testing.T) {
	testnet.RequireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("skipping: nft not installed (sudo make test installs nftables)")
	}
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	cases := []Spec{
		{Family: IPv4, Interface: "wgt0", Addrs: addrs("203.0.113.2"), Mark: 51820},
		{Family: IPv4, Interface: "wgt0", Addrs: addrs("203.0.113.2", "203.0.113.9"), Mark: 0x1234},
		{Family: IPv6, Interface: "wgt0", Addrs: addrs("2001:db8:3::2"), Mark: 51820},
		{Family: IPv6, Interface: "wgt0", Addrs: addrs("2001:db8:3::2", "2001:db8:3::9"), Mark: 51821},
		{Family: IPv4, Interface: "wgt0", Mark: 51820},
	}
	for i, s := range cases {
		t.Run(fmt.Sprintf("%v-%d", s.Family, i), func(t *testing.T) {
			ours, theirs := testnet.NewNS(t), testnet.NewNS(t)
			s.Table = "wgtray-wgt0"
			if err := Add(connIn(t, ours), s); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("ip", "netns", "exec", theirs, "nft", "-f", "-")
			cmd.Stdin = strings.NewReader(wgQuickCommands(s, "wg-quick-wgt0"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("nft -f: %v: %s", err, out)
			}
			got := ruleset(t, ours)
			want := strings.ReplaceAll(ruleset(t, theirs), "wg-quick-wgt0", "wgtray-wgt0")
			if got != want {
				t.Errorf("ruleset differs from wg-quick's\nours:\n%s\nwg-quick's:\n%s", got, want)
			}
			// The kernel's own encoding must match too, not just nft's
			// rendering of it.
			gotNL := testnet.MustRun(t, ours, "nft", "--debug=netlink", "list", "ruleset")
			wantNL := strings.ReplaceAll(testnet.MustRun(t, theirs, "nft", "--debug=netlink", "list", "ruleset"), "wg-quick-wgt0", "wgtray-wgt0")
			if gotNL != wantNL {
				t.Errorf("netlink encoding differs\nours:\n%s\nwg-quick's:\n%s", gotNL, wantNL)
			}
		})
	}
}

func TestDeleteOnlyOurs(t *testing.T) {
	testnet.RequireRoot(t)
	ns := testnet.NewNS(t)
	testnet.MustRun(t, ns, "nft", "add", "table", "ip", "someone-else")
	before := ruleset(t, ns)
	c := connIn(t, ns)
	s := Spec{Family: IPv4, Table: "wgtray-wgt1", Interface: "wgt1", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.2")}, Mark: 51820}
	if err := Add(c, s); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(c, IPv4, s.Table); err != nil || !ok {
		t.Fatalf("Exists after Add = %v, %v", ok, err)
	}
	// A second Add of the same name must fail and change nothing.
	mid := ruleset(t, ns)
	if err := Add(c, s); err == nil {
		t.Error("Add over an existing table succeeded")
	}
	if got := ruleset(t, ns); got != mid {
		t.Errorf("failed Add changed the ruleset:\n%s", got)
	}
	for range 2 {
		if err := Delete(c, IPv4, s.Table); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("after Delete:\n%s\nwant:\n%s", got, before)
	}
	if ok, err := Exists(c, IPv4, s.Table); err != nil || ok {
		t.Errorf("Exists after Delete = %v, %v", ok, err)
	}
}

func TestAddRejectsBadSpec(t *testing.T) {
	testnet.RequireRoot(t)
	ns := testnet.NewNS(t)
	c := connIn(t, ns)
	before := ruleset(t, ns)
	bad := []Spec{
		{Family: IPv4, Table: "wgtray-x", Interface: "", Mark: 1},
		{Family: IPv4, Table: "wgtray-x", Interface: "0123456789abcdef", Mark: 1},
		{Family: IPv4, Table: "wgtray-x", Interface: "wgx", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}, Mark: 1},
	}
	for _, s := range bad {
		if err := Add(c, s); err == nil {
			t.Errorf("Add(%+v) succeeded", s)
		}
	}
	// Nothing may linger in the connection's queue either: a later good
	// Add flushes it.
	good := Spec{Family: IPv4, Table: "wgtray-y", Interface: "wgy", Mark: 1}
	if err := Add(c, good); err != nil {
		t.Fatal(err)
	}
	if err := Delete(c, IPv4, good.Table); err != nil {
		t.Fatal(err)
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("rejected specs changed the ruleset:\n%s", got)
	}
}

func BenchmarkAddDelete(b *testing.B) {
	testnet.RequireRoot(b)
	ns := testnet.NewNS(b)
	c := connIn(b, ns)
	s := Spec{Family: IPv4, Table: "wgtray-wgb", Interface: "wgb", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.2")}, Mark: 51820}
	for b.Loop() {
		if err := Add(c, s); err != nil {
			b.Fatal(err)
		}
		if err := Delete(c, IPv4, s.Table); err != nil {
			b.Fatal(err)
		}
	}
}
