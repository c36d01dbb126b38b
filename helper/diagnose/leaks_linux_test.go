package diagnose

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// TestDoctorLANRouteBypass: a route of the main table more specific than
// the default (as a DHCP server's classless static route would add)
// takes the internet host's traffic around a full tunnel: the bypass
// check warns with the route explainer's sentence, the explainer says
// the same of that host, and the host indeed sees the LAN address.
func TestDoctorLANRouteBypass(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}})
	netns.EchoSource(t, s.tp.Inet, "198.51.100.2:7001")
	netns.IP(t, s.tp.Client, "route add 198.51.100.0/24 via 192.0.2.1 proto dhcp")
	rep := s.diagnose(t, ipc.DiagnoseOptions{})
	c := want(t, rep, "leaks.bypass-routes", ipc.VerdictWarning,
		"198.51.100.1 goes around the tunnel via eth0: the main table has a more specific route 198.51.100.0/24 (added by proto dhcp), which wg-quick's suppress rule lets through")
	if len(c.Details) != 1 {
		t.Errorf("bypass details: %q", c.Details)
	}
	want(t, rep, "leaks.ipv4-default", ipc.VerdictOK, "goes through "+s.name)
	r := s.explain(t, ipc.DiagnoseOptions{Route: s.tp.InetAddr4, Proto: "tcp", Port: 443})
	wantSentence := "198.51.100.2 goes around the tunnel via eth0: the main table has a more specific route 198.51.100.0/24 (added by proto dhcp), which wg-quick's suppress rule lets through"
	if r.Ordinary.Sentence != wantSentence || r.Ordinary.RulePriority != 32764 || r.Ordinary.Table != 254 || r.Ordinary.Via != "192.0.2.1" {
		t.Errorf("route to 198.51.100.2: %+v, want %q by rule 32764, table 254, via 192.0.2.1", r.Ordinary, wantSentence)
	}
	if got := netns.SourceSeenBy(t, s.tp.Client, "198.51.100.2:7001"); got != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("the internet host saw %s, want the LAN address 192.0.2.2 (the traffic went around the tunnel)", got)
	}
	// An address the route does not cover still goes through the tunnel.
	r = s.explain(t, ipc.DiagnoseOptions{Route: netip.MustParseAddr("203.0.113.7")})
	if want := "203.0.113.7 goes through tunnel " + s.name + " (rule 32765: everything without WireGuard's mark uses table 51820)"; r.Ordinary.Sentence != want {
		t.Errorf("route to 203.0.113.7: %q, want %q", r.Ordinary.Sentence, want)
	}
	if r.Marked == nil || !strings.Contains(r.Marked.Sentence, "WireGuard's own packets to 203.0.113.7 (fwmark 0xca6c) go via eth0 (gateway 192.0.2.1) (rule 32766: the main table)") {
		t.Errorf("marked route to 203.0.113.7: %+v", r.Marked)
	}
}

// TestDoctorIPv6Leak: an IPv4-only full tunnel with the leak guard off
// leaves IPv6 on the LAN's default route: a problem, said so, and the
// internet host sees the LAN's IPv6 address. With the guard on, IPv6 is
// blocked and the check is ok.
func TestDoctorIPv6Leak(t *testing.T) {
	v4 := netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}
	t.Run("guard off", func(t *testing.T) {
		s := newSetup(t, setupOpts{client: v4, noLeakGuard: true})
		netns.EchoSource(t, s.tp.Inet, "[2001:db8:2::2]:7002")
		rep := s.diagnose(t, ipc.DiagnoseOptions{})
		c := want(t, rep, "leaks.ipv6-default", ipc.VerdictProblem,
			"IPv6 traffic goes around the tunnel via eth0: "+s.name+" carries only IPv4 and the leak guard is off.")
		if c.Fix == "" || !strings.Contains(c.Fix, "::/0") {
			t.Errorf("fix: %q", c.Fix)
		}
		want(t, rep, "leaks.guard", ipc.VerdictWarning, "The leak guard is off")
		want(t, rep, "leaks.ipv4-default", ipc.VerdictOK, "goes through "+s.name)
		if got := netns.SourceSeenBy(t, s.tp.Client, "[2001:db8:2::2]:7002"); got != netip.MustParseAddr("2001:db8:1::2") {
			t.Errorf("the internet host saw %s, want the LAN address 2001:db8:1::2", got)
		}
	})
	t.Run("guard on", func(t *testing.T) {
		s := newSetup(t, setupOpts{client: v4})
		rep := s.diagnose(t, ipc.DiagnoseOptions{})
		want(t, rep, "leaks.ipv6-default", ipc.VerdictOK, "IPv6 is blocked while "+s.name+" is connected (the leak guard): nothing of it leaks.")
		want(t, rep, "leaks.guard", ipc.VerdictOK, "Leak guard on: IPv6 blocked while connected.")
		// Its unreachable route in the tunnel's table is the tunnel's own.
		want(t, rep, "conflicts.wireguard", ipc.VerdictOK, "No other WireGuard interface is up.")
		r := s.explain(t, ipc.DiagnoseOptions{Route: s.tp.InetAddr6})
		if w := "2001:db8:2::2 is blocked while " + s.name + " is connected: the leak guard's unreachable route default in table 51820 (rule 32765: everything without WireGuard's mark uses table 51820)"; r.Ordinary.Sentence != w {
			t.Errorf("route to 2001:db8:2::2: %q, want %q", r.Ordinary.Sentence, w)
		}
	})
}

// TestDoctorDNSOutsideTunnel: a full tunnel without a DNS line leaves
// resolv.conf's server on the LAN: the DNS check is a problem, the test
// query goes to that server from the LAN address, and the server (dnsmasq
// on the LAN's gateway) logs it from there.
func TestDoctorDNSOutsideTunnel(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"},
		resolvConf: "nameserver 192.0.2.1\n"})
	lan := netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("192.0.2.1"), nil)
	rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: s.tp.InetAddr4})
	want(t, rep, "leaks.dns", ipc.VerdictProblem,
		"DNS queries go around the tunnel: /etc/resolv.conf uses 192.0.2.1 (via eth0), outside "+s.name+", so the network sees every name you look up.")
	q := want(t, rep, "leaks.dns-query", ipc.VerdictProblem, "went to 192.0.2.1 (from 192.0.2.2), outside "+s.name+": DNS leaks.")
	name := strings.Fields(strings.TrimPrefix(q.Summary, "A test query for "))[0]
	lan.WaitQuery(t, name, netip.MustParseAddr("192.0.2.2"))
}

// TestDoctorDNSServerSilent: the tunnel's DNS server is inside the
// tunnel but nothing answers there: no leak, but the test query's
// warning says the server did not answer.
func TestDoctorDNSServerSilent(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{DNS: peerDNS.String()}})
	s.handshake(t)
	rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true})
	want(t, rep, "leaks.dns", ipc.VerdictOK, "Every DNS server /etc/resolv.conf names is reached through "+s.name+".")
	c := want(t, rep, "leaks.dns-query", ipc.VerdictWarning, "went to 203.0.113.1 through "+s.name+", which did not answer.")
	if c.Fix != "Check that the tunnel's DNS server runs and answers." || len(c.Details) < 2 {
		t.Errorf("fix %q, details %q", c.Fix, c.Details)
	}
}
