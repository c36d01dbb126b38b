package firewall

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// newNS returns a throwaway namespace and an nftables connection into it.
// The connection works on the namespace through its fd, so no thread ever
// leaves the root namespace and the root firewall cannot be touched.
func newNS(tb testing.TB) (string, *nftables.Conn) {
	tb.Helper()
	netns.RequireRoot(tb)
	if _, err := exec.LookPath("nft"); err != nil {
		tb.Skip("skipping: the nft command is not installed (apt-get install nftables)")
	}
	ns := netns.NewNS(tb)
	h, err := vnetns.GetFromName(ns)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		tb.Fatal(err)
	}
	return ns, c
}

func ruleset(tb testing.TB, ns string) string {
	tb.Helper()
	return netns.MustRun(tb, ns, "nft", "list", "ruleset")
}

// nftApply feeds script to `nft -f -` inside ns.
func nftApply(tb testing.TB, ns, script string) {
	tb.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("nft -f in %s: %v: %s\nscript:\n%s", ns, err, out, script)
	}
}

// tunnelLink creates a persistent tun device standing in for the tunnel,
// as wireguard-go's would (this needs no dummy or wireguard kernel module),
// with the given addresses in CIDR notation. The kernel adds no fe80::
// address of its own, so the device has exactly these, in this order.
func tunnelLink(tb testing.TB, ns, name string, cidrs ...string) {
	tb.Helper()
	netns.MustRun(tb, ns, "ip", "tuntap", "add", "dev", name, "mode", "tun")
	netns.MustRun(tb, ns, "ip", "link", "set", name, "addrgenmode", "none")
	netns.MustRun(tb, ns, "ip", "link", "set", name, "up")
	for _, p := range cidrs {
		args := []string{"addr", "add", p, "dev", name}
		if strings.Contains(p, ":") {
			args = append(args, "nodad")
		}
		netns.MustRun(tb, ns, "ip", args...)
	}
}

// wgQuickAddr is the pattern wg-quick's add_default reads addresses with.
var wgQuickAddr = regexp.MustCompile(`.*inet6? ([0-9a-f:.]+)/[0-9]+.*`)

// ifAddrs lists an interface's addresses of family f the way wg-quick
// does: `ip -o -4|-6 addr show dev IFACE`, in the kernel's order.
func ifAddrs(tb testing.TB, ns, iface string, f Family) []netip.Addr {
	tb.Helper()
	proto := "-4"
	if f == IPv6 {
		proto = "-6"
	}
	var out []netip.Addr
	for _, l := range strings.Split(netns.MustRun(tb, ns, "ip", "-o", proto, "addr", "show", "dev", iface), "\n") {
		if m := wgQuickAddr.FindStringSubmatch(l); m != nil {
			out = append(out, netip.MustParseAddr(m[1]))
		}
	}
	return out
}

// wgQuickCommands is the text wg-quick's add_default feeds `nft -f` for
// one family, trailing spaces included.
func wgQuickCommands(s Spec) string {
	pf, tbl := s.Family, s.Table
	var b strings.Builder
	fmt.Fprintf(&b, "add table %s %s\n", pf, tbl)
	fmt.Fprintf(&b, "add chain %s %s preraw { type filter hook prerouting priority -300; }\n", pf, tbl)
	fmt.Fprintf(&b, "add chain %s %s premangle { type filter hook prerouting priority -150; }\n", pf, tbl)
	fmt.Fprintf(&b, "add chain %s %s postmangle { type filter hook postrouting priority -150; }\n", pf, tbl)
	for _, a := range s.Addrs {
		fmt.Fprintf(&b, "add rule %s %s preraw iifname != \"%s\" %s daddr %s fib saddr type != local drop\n", pf, tbl, s.Interface, pf, a)
	}
	fmt.Fprintf(&b, "add rule %s %s postmangle meta l4proto udp mark %d ct mark set mark \n", pf, tbl, s.Mark)
	fmt.Fprintf(&b, "add rule %s %s premangle meta l4proto udp meta mark set ct mark \n", pf, tbl)
	return b.String()
}

// chainView is what the kernel reports of a chain and its rules, decoded
// by the nftables library. Unlike nft's listing it keeps every byte of
// every expression: a 4-byte cmp against l4proto would print the same as
// nft's 1-byte one.
type chainView struct {
	Name     string
	Type     nftables.ChainType
	Hook     *nftables.ChainHook
	Priority *nftables.ChainPriority
	Policy   *nftables.ChainPolicy
	Device   string
	Rules    []ruleView
}

type ruleView struct {
	Handle, Position uint64
	Flags            uint32
	UserData         []byte
	Exprs            []expr.Any
}

func kernelView(tb testing.TB, c *nftables.Conn, f Family, table string) []chainView {
	tb.Helper()
	chains, err := c.ListChainsOfTableFamily(f.nft())
	if err != nil {
		tb.Fatal(err)
	}
	var out []chainView
	for _, ch := range chains {
		if ch.Table.Name != table {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			tb.Fatal(err)
		}
		v := chainView{Name: ch.Name, Type: ch.Type, Hook: ch.Hooknum, Priority: ch.Priority, Policy: ch.Policy, Device: ch.Device}
		for _, r := range rules {
			v.Rules = append(v.Rules, ruleView{r.Handle, r.Position, r.Flags, r.UserData, r.Exprs})
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b chainView) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TestParityWithWgQuick holds Add to what nft makes of wg-quick's command
// text, compared three ways: nft's listing, nft's dump of the netlink
// expressions, and the library's byte-exact decoding of the kernel's
// state.
func TestParityWithWgQuick(t *testing.T) {
	const iface = "wgt0"
	cases := []struct {
		name   string
		family Family
		cidrs  []string // on the tunnel device, both families mixed
		mark   uint32
	}{
		{"ip-1addr", IPv4, []string{"203.0.113.2/32", "2001:db8:3::2/128"}, 51820},
		{"ip-2addrs", IPv4, []string{"203.0.113.2/32", "2001:db8:3::2/128", "198.51.100.7/24"}, 0x1234},
		{"ip6-1addr", IPv6, []string{"203.0.113.2/32", "2001:db8:3::2/128"}, 51820},
		{"ip6-2addrs", IPv6, []string{"2001:db8:3::2/128", "203.0.113.2/32", "2001:db8:4::9/64"}, 51821},
		// A link-local address gets its rule too, as in wg-quick.
		{"ip6-linklocal", IPv6, []string{"2001:db8:3::2/128", "fe80::2/64"}, 51820},
		// No address of the family: chains and mark rules only.
		{"ip-noaddr", IPv4, []string{"2001:db8:3::2/128"}, 0xffffffff},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ours, c := newNS(t)
			theirs, cTheirs := newNS(t)
			tunnelLink(t, ours, iface, tc.cidrs...)
			addrs := ifAddrs(t, ours, iface, tc.family)
			want := 0
			for _, p := range tc.cidrs {
				if strings.Contains(p, ":") == (tc.family == IPv6) {
					want++
				}
			}
			if len(addrs) != want {
				t.Fatalf("%s has addresses %v of family %s, want %d", iface, addrs, tc.family, want)
			}
			s := Spec{Family: tc.family, Table: "wgtray-X", Interface: iface, Addrs: addrs, Mark: tc.mark}
			if err := Add(c, s); err != nil {
				t.Fatal(err)
			}
			wq := s
			wq.Table = "wg-quick-X"
			nftApply(t, theirs, wgQuickCommands(wq))

			rename := func(s string) string { return strings.ReplaceAll(s, "wg-quick-X", "wgtray-X") }
			if got, want := ruleset(t, ours), rename(ruleset(t, theirs)); got != want {
				t.Errorf("ruleset differs from wg-quick's (-ours +wg-quick):\n%s", cmp.Diff(got, want))
			}
			gotNL := netns.MustRun(t, ours, "nft", "--debug=netlink", "list", "ruleset")
			wantNL := rename(netns.MustRun(t, theirs, "nft", "--debug=netlink", "list", "ruleset"))
			if gotNL != wantNL {
				t.Errorf("netlink expressions differ from wg-quick's (-ours +wg-quick):\n%s", cmp.Diff(gotNL, wantNL))
			}
			got, wantKV := kernelView(t, c, tc.family, "wgtray-X"), kernelView(t, cTheirs, tc.family, "wg-quick-X")
			if d := cmp.Diff(got, wantKV); d != "" {
				t.Errorf("kernel state differs from wg-quick's (-ours +wg-quick):\n%s", d)
			}
			// Guard against both sides being equally empty.
			rules := map[string]int{}
			for _, ch := range got {
				rules[ch.Name] = len(ch.Rules)
			}
			if w := map[string]int{"preraw": want, "premangle": 1, "postmangle": 1}; !maps.Equal(rules, w) {
				t.Errorf("rules per chain = %v, want %v", rules, w)
			}
		})
	}
}

func TestAddOverExistingTable(t *testing.T) {
	ns, c := newNS(t)
	s := Spec{Family: IPv4, Table: "wgtray-wgt1", Interface: "wgt1", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.2")}, Mark: 51820}

	// Someone else's table of our name, with content that `nft add table`
	// and `add chain` would merge into.
	nftApply(t, ns, "add table ip wgtray-wgt1\n"+
		"add chain ip wgtray-wgt1 preraw { type filter hook prerouting priority 0; policy drop; }\n"+
		"add rule ip wgtray-wgt1 preraw counter accept\n")
	before := ruleset(t, ns)
	err := Add(c, s)
	if !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Add over a foreign table: got %v, want EEXIST", err)
	}
	if !strings.Contains(err.Error(), `add nftables table ip "wgtray-wgt1"`) {
		t.Errorf("error lacks context: %v", err)
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("failed Add changed the ruleset:\n%s\nwant:\n%s", got, before)
	}

	// Our own table, added twice.
	netns.MustRun(t, ns, "nft", "delete", "table", "ip", "wgtray-wgt1")
	if err := Add(c, s); err != nil {
		t.Fatal(err)
	}
	before = ruleset(t, ns)
	if err := Add(c, s); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("second Add: got %v, want EEXIST", err)
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("second Add changed the ruleset:\n%s\nwant:\n%s", got, before)
	}

	// Tables are per family: the same name in ip6 is another table.
	s6 := Spec{Family: IPv6, Table: s.Table, Interface: s.Interface, Addrs: []netip.Addr{netip.MustParseAddr("2001:db8:3::2")}, Mark: s.Mark}
	if err := Add(c, s6); err != nil {
		t.Fatalf("Add ip6 beside ip: %v", err)
	}
}

// TestAddAtomic fails the batch at its very end and checks that none of
// it stays: the table, chains and rules queued before go too.
func TestAddAtomic(t *testing.T) {
	ns, c := newNS(t)
	before := ruleset(t, ns)
	s := Spec{Family: IPv6, Table: "wgtray-wgt2", Interface: "wgt2", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8:3::2")}, Mark: 51820}
	queue(c, s)
	t6 := &nftables.Table{Family: nftables.TableFamilyIPv6, Name: s.Table}
	c.AddRule(&nftables.Rule{Table: t6, Chain: &nftables.Chain{Name: "missing", Table: t6}, Exprs: restoreMark()})
	if err := c.Flush(); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Flush of a batch ending in a rule for a missing chain: got %v, want ENOENT", err)
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("failed batch left state behind:\n%s", got)
	}
	if ok, err := Exists(c, IPv6, s.Table); err != nil || ok {
		t.Errorf("Exists after failed batch = %v, %v; want false, nil", ok, err)
	}
	// The connection keeps nothing of the failed batch.
	if err := Add(c, s); err != nil {
		t.Fatalf("Add after failed batch: %v", err)
	}
}

func TestDeleteOnlyOurs(t *testing.T) {
	ns, c := newNS(t)
	const table = "wgtray-wgt3"
	// Unrelated tables, one of them of our name in another family.
	nftApply(t, ns, "add table ip someone-else\n"+
		"add chain ip someone-else input { type filter hook input priority 0; }\n"+
		"add table ip6 "+table+"\n"+
		"add table inet "+table+"\n")
	before := ruleset(t, ns)

	s := Spec{Family: IPv4, Table: table, Interface: "wgt3", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.2")}, Mark: 51820}
	if ok, err := Exists(c, IPv4, table); err != nil || ok {
		t.Fatalf("Exists before Add = %v, %v; want false, nil", ok, err)
	}
	if err := Add(c, s); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(c, IPv4, table); err != nil || !ok {
		t.Fatalf("Exists after Add = %v, %v; want true, nil", ok, err)
	}
	for i := range 2 {
		if err := Delete(c, IPv4, table); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("after Delete:\n%s\nwant:\n%s", got, before)
	}
	if ok, err := Exists(c, IPv4, table); err != nil || ok {
		t.Errorf("Exists after Delete = %v, %v; want false, nil", ok, err)
	}
	if ok, err := Exists(c, IPv6, table); err != nil || !ok {
		t.Errorf("Exists(ip6) = %v, %v; want true, nil", ok, err)
	}
}

func TestRejectsBadArguments(t *testing.T) {
	ns, c := newNS(t)
	before := ruleset(t, ns)
	ok := Spec{Family: IPv4, Table: "wgtray-x", Interface: "wgx", Mark: 1}
	bad := map[string]func(*Spec){
		"no interface":      func(s *Spec) { s.Interface = "" },
		"long interface":    func(s *Spec) { s.Interface = "0123456789abcdef" },
		"NUL in interface":  func(s *Spec) { s.Interface = "wg\x00x" },
		"IPv6 addr for ip":  func(s *Spec) { s.Addrs = []netip.Addr{netip.MustParseAddr("2001:db8::1")} },
		"IPv4 addr for ip6": func(s *Spec) { s.Family = IPv6; s.Addrs = []netip.Addr{netip.MustParseAddr("203.0.113.2")} },
		"zero addr for ip6": func(s *Spec) { s.Family = IPv6; s.Addrs = []netip.Addr{{}} },
		"unknown family":    func(s *Spec) { s.Family = 7 },
		"no table":          func(s *Spec) { s.Table = "" },
		"long table":        func(s *Spec) { s.Table = strings.Repeat("t", unix.NFT_TABLE_MAXNAMELEN) },
	}
	for name, mod := range bad {
		s := ok
		mod(&s)
		if err := Add(c, s); err == nil {
			t.Errorf("%s: Add(%+v) succeeded", name, s)
		}
	}
	if err := Delete(c, 7, "wgtray-x"); err == nil {
		t.Error("Delete with an unknown family succeeded")
	}
	if _, err := Exists(c, IPv4, ""); err == nil {
		t.Error("Exists with no table name succeeded")
	}
	// Nothing may linger in the connection's queue: a later good Add
	// flushes it.
	if err := Add(c, ok); err != nil {
		t.Fatal(err)
	}
	if err := Delete(c, IPv4, ok.Table); err != nil {
		t.Fatal(err)
	}
	if got := ruleset(t, ns); got != before {
		t.Errorf("rejected arguments changed the ruleset:\n%s", got)
	}
}

func BenchmarkAddDelete(b *testing.B) {
	_, c := newNS(b)
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
