package diagnose

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// TestDoctorShadowingRule: another program's rule at priority 100 sends
// every packet to its table 100, whose default route is the LAN's: the
// tunnel is bypassed entirely, and both the shadowing check and the
// default-route check say so and name the rule. The internet host sees
// the LAN address.
func TestDoctorShadowingRule(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}})
	netns.EchoSource(t, s.tp.Inet, "198.51.100.2:7001")
	netns.IP(t, s.tp.Client, "route add default via 192.0.2.1 table 100", "rule add pref 100 lookup 100")
	rep := s.diagnose(t, ipc.DiagnoseOptions{})
	want(t, rep, "conflicts.shadowing-rules", ipc.VerdictProblem,
		"A rule of another program catches traffic before the tunnel's rules: rule 100 (every packet uses table 100) comes before "+s.name+"'s rules (32764): "+
			"9.9.9.9 goes around the tunnel via eth0: rule 100 (every packet uses table 100) comes before the tunnel's rules, and table 100 has the route default.")
	want(t, rep, "leaks.ipv4-default", ipc.VerdictProblem, "IPv4 traffic to the internet goes around the tunnel via eth0.")
	r := s.explain(t, ipc.DiagnoseOptions{Route: s.tp.InetAddr4})
	if r.Ordinary.RulePriority != 100 || r.Ordinary.Table != 100 || r.Ordinary.Tunnel != "" {
		t.Errorf("route to the internet host: %+v", r.Ordinary)
	}
	if got := netns.SourceSeenBy(t, s.tp.Client, "198.51.100.2:7001"); got != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("the internet host saw %s, want 192.0.2.2", got)
	}
}

// TestDoctorSecondWgQuick: a second tunnel, brought up by Debian's
// wg-quick with Table = 51820 and FwMark = 0xca6c, puts its route into
// wgtray's table and marks its packets as wgtray's WireGuard does: a
// problem, naming the route and the fwmark.
func TestDoctorSecondWgQuick(t *testing.T) {
	s := newSetup(t, setupOpts{})
	iface := netns.UniqueName("wgq")
	conf := wgQuickConf(t, iface, fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = 2001:db8:9::2/128
Table = 51820
FwMark = 0xca6c

[Peer]
PublicKey = %s
AllowedIPs = 2001:db8:9::/64
`, s.tp.ClientPrivateKey, s.tp.PeerPublicKey))
	netns.WgQuick(t, s.tp.Client, "up", conf)
	t.Cleanup(func() { netns.WgQuick(t, s.tp.Client, "down", conf) })
	rep := s.diagnose(t, ipc.DiagnoseOptions{})
	c := want(t, rep, "conflicts.wireguard", ipc.VerdictProblem, "Another WireGuard tunnel ("+iface+" (fwmark 0xca6c)) uses the same routing table or fwmark as wgtray's")
	details := strings.Join(c.Details, "\n")
	for _, w := range []string{
		iface + " marks its packets 0xca6c, the fwmark of " + s.name,
		"table 51820, " + s.name + "'s, also has 2001:db8:9::/64 dev " + iface + " table 51820, a route of another interface",
	} {
		if !strings.Contains(details, w) {
			t.Errorf("details %q lack %q", c.Details, w)
		}
	}
	r := s.explain(t, ipc.DiagnoseOptions{Route: netip.MustParseAddr("2001:db8:9::5")})
	if w := "2001:db8:9::5 goes around the tunnel via " + iface + " (rule 32765: everything without WireGuard's mark uses table 51820)"; r.Ordinary.Sentence != w {
		t.Errorf("route to 2001:db8:9::5: %q, want %q", r.Ordinary.Sentence, w)
	}
}

// TestDoctorTailscaleLike: Tailscale's footprint made by hand (its rules
// at 5210-5270, table 52, an interface tailscale0): a warning while its
// table has only its own prefix, a problem once it has a default route
// (an exit node), and the explainer names rule 5270 and table 52.
func TestDoctorTailscaleLike(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}})
	netns.IP(t, s.tp.Client,
		"link add tailscale0 type veth peer name ts-other",
		"link set tailscale0 up", "link set ts-other up",
		"route add 198.51.100.128/25 dev tailscale0 table 52",
		"rule add pref 5210 fwmark 0x80000/0xff0000 lookup main",
		"rule add pref 5230 fwmark 0x80000/0xff0000 lookup default",
		"rule add pref 5250 fwmark 0x80000/0xff0000 unreachable",
		"rule add pref 5270 lookup 52")
	rep := s.diagnose(t, ipc.DiagnoseOptions{})
	c := want(t, rep, "conflicts.tailscale", ipc.VerdictWarning,
		"Tailscale's rules (5210-5270) come before the tunnel's: the 1 route(s) of its table 52 win over the tunnel for their addresses.")
	if d := strings.Join(c.Details, "\n"); !strings.Contains(d, "5270: from all lookup 52") || !strings.Contains(d, "interface tailscale0 exists") ||
		!strings.Contains(d, "5210: from all fwmark 0x80000/0xff0000 lookup main") || !strings.Contains(d, "5250: from all fwmark 0x80000/0xff0000 unreachable") {
		t.Errorf("details: %q", c.Details)
	}
	want(t, rep, "conflicts.shadowing-rules", ipc.VerdictOK, "")
	want(t, rep, "leaks.ipv4-default", ipc.VerdictOK, "goes through "+s.name)
	r := s.explain(t, ipc.DiagnoseOptions{Route: netip.MustParseAddr("198.51.100.200")})
	if w := "198.51.100.200 goes around the tunnel via tailscale0: rule 5270 (every packet uses table 52) comes before the tunnel's rules, and table 52 has the route 198.51.100.128/25"; r.Ordinary.Sentence != w {
		t.Errorf("route: %q, want %q", r.Ordinary.Sentence, w)
	}

	netns.IP(t, s.tp.Client, "route add default dev tailscale0 table 52")
	rep = s.diagnose(t, ipc.DiagnoseOptions{})
	want(t, rep, "conflicts.tailscale", ipc.VerdictProblem, "Tailscale uses an exit node: its rule 5270 sends every packet to table 52 before the tunnel's rules")
	want(t, rep, "leaks.ipv4-default", ipc.VerdictProblem, "IPv4 traffic to the internet goes around the tunnel via tailscale0.")
}

// TestDoctorOtherTools: firewalld and systemd-networkd, seen by their
// names on the system bus (the test's private one, where the test owns
// them), and an nftables table inet mullvad.
func TestDoctorOtherTools(t *testing.T) {
	s := newSetup(t, setupOpts{})
	conn := privbusConn(t, s.bus)
	for _, n := range []string{busFirewall, busNetworkd} {
		if _, err := conn.RequestName(n, 0); err != nil {
			t.Fatal(err)
		}
	}
	netns.MustRun(t, s.tp.Client, "nft", "add table inet mullvad")
	rep := s.diagnose(t, ipc.DiagnoseOptions{})
	want(t, rep, "conflicts.firewalld", ipc.VerdictWarning, "firewalld runs: `firewall-cmd --reload` flushes the nftables ruleset, tables it did not make included (the tunnel's ")
	want(t, rep, "conflicts.networkd", ipc.VerdictWarning, "systemd-networkd runs with ManageForeignRoutingPolicyRules=yes")
	want(t, rep, "conflicts.mullvad", ipc.VerdictProblem, "Mullvad's firewall is loaded (nftables table inet mullvad)")
}

// foreignNft is another program's firewall: a table that marks DNS
// packets with WireGuard's own fwmark, and drops by default on output.
const foreignNft = `table inet otherfw {
	chain route {
		type route hook output priority -150; policy accept;
		udp dport 53 meta mark set 0xca6c
	}
	chain out {
		type filter hook output priority 10; policy drop;
		oifname "lo" accept
	}
}
`

// TestDoctorForeignNftables: a foreign table that sets the tunnel's
// fwmark is a problem (the explainer shows where such packets go), and
// its drop policy is named too.
func TestDoctorForeignNftables(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}})
	rep := s.diagnose(t, ipc.DiagnoseOptions{})
	want(t, rep, "conflicts.nftables", ipc.VerdictOK, "none marks packets as WireGuard's or drops by default")
	f := netns.WriteConf(t, t.TempDir(), "otherfw", foreignNft)
	netns.MustRun(t, s.tp.Client, "nft", "-f", f)
	rep = s.diagnose(t, ipc.DiagnoseOptions{})
	c := want(t, rep, "conflicts.nftables", ipc.VerdictProblem,
		"Another program's nftables rules mark packets as WireGuard's own, so they go around the tunnel: table inet otherfw sets fwmark 0xca6c, WireGuard's own mark for "+s.name+": the packets it marks skip the tunnel.")
	if d := strings.Join(c.Details, "\n"); !strings.Contains(d, "table inet otherfw drops by default at hook output") {
		t.Errorf("details %q", c.Details)
	}
}
