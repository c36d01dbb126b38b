package diagnose

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/ipc"
)

// The pure parts: rule selection, the explainer's sentences and the
// verdicts, from hand-made facts (the namespace tests make them real).

var office = Tunnel{Name: "office", FullTunnel: true, Table: 51820, Full: []int{4}, Blocked: []int{6},
	Rules: []Rule{
		{Family: 4, Priority: 32764, Action: actToTable, Table: tableMain, SuppressPrefixlen: 0},
		{Family: 4, Priority: 32765, Action: actToTable, Table: 51820, Mark: 51820, Mask: 0xffffffff, Invert: true, SuppressPrefixlen: -1},
	},
	AllowedIPs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}

func baseRules() []Rule {
	return append([]Rule{
		{Family: 4, Priority: 0, Action: actToTable, Table: tableLocal, SuppressPrefixlen: -1},
		{Family: 4, Priority: 32766, Action: actToTable, Table: tableMain, SuppressPrefixlen: -1},
		{Family: 4, Priority: 32767, Action: actToTable, Table: tableDefault, SuppressPrefixlen: -1},
	}, office.Rules...)
}

func TestRuleString(t *testing.T) {
	for _, c := range []struct {
		r    Rule
		want string
	}{
		{office.Rules[0], "from all lookup main suppress_prefixlength 0"},
		{office.Rules[1], "not from all fwmark 0xca6c lookup 51820"},
		{Rule{Action: actUnreachable, Mark: 0x80000, Mask: 0xff0000, SuppressPrefixlen: -1}, "from all fwmark 0x80000/0xff0000 unreachable"},
		{Rule{Action: actToTable, Table: 100, Dst: netip.MustParsePrefix("198.51.100.0/24"), IPProto: 17, Dport: [2]uint16{53, 53}, SuppressPrefixlen: -1},
			"from all to 198.51.100.0/24 ipproto udp dport 53 lookup 100"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}

func TestRuleMatches(t *testing.T) {
	inv := office.Rules[1]
	if !inv.matches(Packet{Dst: netip.MustParseAddr("9.9.9.9")}) || inv.matches(Packet{Dst: netip.MustParseAddr("9.9.9.9"), Mark: 51820}) {
		t.Error("not fwmark 0xca6c: wrong")
	}
	ts := Rule{Mark: 0x80000, Mask: 0xff0000}
	if ts.matches(Packet{}) || !ts.matches(Packet{Mark: 0x80123}) {
		t.Error("fwmark 0x80000/0xff0000: wrong")
	}
	dport := Rule{IPProto: 17, Dport: [2]uint16{53, 53}}
	if !dport.matches(Packet{Proto: 17, Port: 53}) || dport.matches(Packet{Proto: 6, Port: 53}) || dport.matches(Packet{Proto: 17, Port: 54}) {
		t.Error("ipproto udp dport 53: wrong")
	}
	if (Rule{Iif: "eth0"}).matches(Packet{}) || !(Rule{Iif: "lo"}).matches(Packet{}) || (Rule{Oif: "eth0"}).matches(Packet{}) {
		t.Error("iif/oif: a packet of this machine comes from lo and has no output interface yet")
	}
	if (Rule{UID: &[2]uint32{1000, 1000}}).matches(Packet{UID: 0}) || !(Rule{UID: &[2]uint32{1000, 1000}}).matches(Packet{UID: 1000}) {
		t.Error("uidrange: wrong")
	}
}

func TestDecisiveRule(t *testing.T) {
	rules := sortedRules(baseRules())
	dst := netip.MustParseAddr("9.9.9.9")
	// The main table's default route is suppressed by 32764: a /0 from
	// the main table was decided by 32766, a /24 by 32764.
	r, ok := decisiveRule(Packet{Dst: dst}, Lookup{Table: tableMain, Prefix: netip.MustParsePrefix("0.0.0.0/0")}, rules, nil)
	if !ok || r.Priority != 32766 {
		t.Errorf("main /0: rule %d %v", r.Priority, ok)
	}
	r, ok = decisiveRule(Packet{Dst: dst}, Lookup{Table: tableMain, Prefix: netip.MustParsePrefix("9.9.9.0/24")}, rules, nil)
	if !ok || r.Priority != 32764 {
		t.Errorf("main /24: rule %d %v", r.Priority, ok)
	}
	r, ok = decisiveRule(Packet{Dst: dst}, Lookup{Table: 51820, Prefix: netip.MustParsePrefix("0.0.0.0/0")}, rules, nil)
	if !ok || r.Priority != 32765 {
		t.Errorf("table 51820: rule %d %v", r.Priority, ok)
	}
	// A refused packet: the rule whose table holds the reject route.
	routes := []RouteEntry{{Family: 4, Table: 51820, Dst: netip.MustParsePrefix("0.0.0.0/0"), Type: "unreachable"}}
	r, ok = decisiveRule(Packet{Dst: dst}, Lookup{Err: "network is unreachable"}, rules, routes)
	if !ok || r.Priority != 32765 {
		t.Errorf("unreachable: rule %d %v", r.Priority, ok)
	}
	if _, ok := decisiveRule(Packet{Dst: dst}, Lookup{Table: 7777, Prefix: netip.MustParsePrefix("0.0.0.0/0")}, rules, nil); ok {
		t.Error("a table no rule names was attributed to a rule")
	}
}

func sortedRules(r []Rule) []Rule {
	out := append([]Rule(nil), r...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Priority < out[i].Priority {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestExplainSentences(t *testing.T) {
	sys := &System{Rules: append(baseRules(), Rule{Family: 4, Priority: 100, Action: actToTable, Table: 100, SuppressPrefixlen: -1})}
	tunnels := []Tunnel{office}
	dst := netip.MustParseAddr("203.0.113.7")
	for _, c := range []struct {
		p    Packet
		lk   Lookup
		want string
	}{
		{Packet{Dst: dst}, Lookup{Type: "unicast", Table: 51820, Dev: "office", Prefix: netip.MustParsePrefix("0.0.0.0/0")},
			"203.0.113.7 goes through tunnel office (rule 32765: everything without WireGuard's mark uses table 51820)"},
		{Packet{Dst: dst}, Lookup{Type: "unicast", Table: tableMain, Dev: "eth0", Prefix: netip.MustParsePrefix("203.0.113.0/24"), Proto: "dhcp"},
			"203.0.113.7 goes around the tunnel via eth0: the main table has a more specific route 203.0.113.0/24 (added by proto dhcp), which wg-quick's suppress rule lets through"},
		{Packet{Dst: dst}, Lookup{Type: "unicast", Table: 100, Dev: "eth0", Prefix: netip.MustParsePrefix("0.0.0.0/0")},
			"203.0.113.7 goes around the tunnel via eth0: rule 100 (every packet uses table 100) comes before the tunnel's rules, and table 100 has the route default"},
		{Packet{Dst: dst, Mark: 51820}, Lookup{Type: "unicast", Table: tableMain, Dev: "eth0", Via: netip.MustParseAddr("192.0.2.1"), Prefix: netip.MustParsePrefix("0.0.0.0/0")},
			"WireGuard's own packets to 203.0.113.7 (fwmark 0xca6c) go via eth0 (gateway 192.0.2.1) (rule 32766: the main table)"},
	} {
		// Rule 100 catches everything; only the third case is its.
		s := sys
		if c.lk.Table != 100 {
			s = &System{Rules: baseRules()}
		}
		if got := Explain(c.p, c.lk, s, tunnels).Sentence; got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestHealthVerdicts(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tn := Tunnel{Name: "office", Peers: []Peer{{Host: "vpn.example", Port: 51820, Current: netip.MustParseAddrPort("198.51.100.7:51820")}}}
	c := healthChecks(&tn, now, nil)[0]
	if c.Verdict != ipc.VerdictProblem || !strings.Contains(c.Summary, "no handshake") {
		t.Errorf("never: %+v", c)
	}
	tn.Peers[0].LastHandshake, tn.Peers[0].Rx, tn.Peers[0].Tx = now.Add(-5*time.Minute), 100, 200
	if c := healthChecks(&tn, now, nil)[0]; c.Verdict != ipc.VerdictWarning || !strings.Contains(c.Summary, "was 5m0s ago") {
		t.Errorf("stale: %+v", c)
	}
	tn.Peers[0].LastHandshake = now.Add(-30 * time.Second)
	checks := healthChecks(&tn, now, map[int]Resolved{0: {Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.8")}}})
	if checks[0].Verdict != ipc.VerdictOK {
		t.Errorf("fresh: %+v", checks[0])
	}
	if ep := checks[len(checks)-1]; ep.Verdict != ipc.VerdictWarning || !strings.Contains(ep.Summary, "now resolves to 198.51.100.8, but the tunnel still uses 198.51.100.7") {
		t.Errorf("endpoint moved: %+v", ep)
	}
	tn.Status = map[string]dbus.Variant{"Health": dbus.MakeVariant("stalled"), "HealthReason": dbus.MakeVariant("no reply from the peer since 10:02")}
	checks = healthChecks(&tn, now, nil)
	if checks[1].ID != "health.state" || checks[1].Verdict != ipc.VerdictProblem || len(checks[1].Details) != 1 {
		t.Errorf("health key: %+v", checks[1])
	}
	// Waiting is the first seconds of every tunnel, no warning.
	tn.Status = map[string]dbus.Variant{"Health": dbus.MakeVariant("waiting")}
	checks = healthChecks(&tn, now, nil)
	if checks[1].ID != "health.state" || checks[1].Verdict != ipc.VerdictOK {
		t.Errorf("waiting: %+v", checks[1])
	}
	tn.Status = map[string]dbus.Variant{"Health": dbus.MakeVariant("")}
	if checks := healthChecks(&tn, now, nil); len(checks) != 2 {
		t.Errorf("an empty health key made a check: %+v", checks)
	}
}

func TestMTUVerdicts(t *testing.T) {
	tn := &Tunnel{Name: "office", DNS: []netip.Addr{netip.MustParseAddr("10.64.0.1")}, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
	if h, why := pickMTUHost(tn, netip.Addr{}); h != netip.MustParseAddr("10.64.0.1") || why != "the tunnel's DNS server" {
		t.Errorf("host %s (%s)", h, why)
	}
	host := netip.MustParseAddr("10.64.0.1")
	for _, c := range []struct {
		r    MTUResult
		v    ipc.Verdict
		want string
	}{
		{MTUResult{Host: host, LinkMTU: 1420, Largest: 1420}, ipc.VerdictOK, "full MTU (1420 bytes)"},
		{MTUResult{Host: host, LinkMTU: 1420, Largest: 1380, Failed: 1381}, ipc.VerdictProblem, "Packets larger than 1380 bytes"},
		{MTUResult{Host: host, LinkMTU: 1420, Largest: 1380, Failed: 1381, FragNeeded: 1380}, ipc.VerdictOK, "and says so"},
		{MTUResult{Host: host, LinkMTU: 1420}, ipc.VerdictWarning, "does not answer pings"},
		{MTUResult{}, ipc.VerdictWarning, "no address inside the tunnel"},
	} {
		got := mtuCheck(tn, c.r, "x")
		if got.Verdict != c.v || !strings.Contains(got.Summary, c.want) {
			t.Errorf("%+v: %s %q", c.r, got.Verdict, got.Summary)
		}
	}
}

func TestResolvedServers(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	st := &ResolvedState{Global: []netip.Addr{a("192.0.2.53")}, Links: []ResolvedLink{
		{Name: "eth0", Servers: []netip.Addr{a("192.0.2.1")}, DefaultRoute: true},
		{Name: "office", Servers: []netip.Addr{a("10.64.0.1")}, DefaultRoute: true, RoutesAll: true},
	}}
	if got := st.Servers(); len(got) != 1 || got[0] != a("10.64.0.1") {
		t.Errorf("with ~.: %v", got)
	}
	st.Links[1].RoutesAll = false
	if got := st.Servers(); len(got) != 3 {
		t.Errorf("without ~.: %v", got)
	}
}

func TestConfigFiles(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	os.WriteFile(rc, []byte("# Generated by NetworkManager\nsearch lan\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\n"), 0o644)
	got := readResolvConf(rc)
	if got.Writer != "NetworkManager" || len(got.Servers) != 2 || got.Servers[0] != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("resolv.conf: %+v", got)
	}
	if !readResolvConf(filepath.Join(dir, "absent")).Missing {
		t.Error("absent resolv.conf not missing")
	}
	conf := filepath.Join(dir, "networkd.conf")
	if on, from := networkdForeignRules(conf); !on || from != "" {
		t.Errorf("default: %v %q", on, from)
	}
	os.WriteFile(conf, []byte("[Network]\nManageForeignRoutingPolicyRules=no\n"), 0o644)
	if on, from := networkdForeignRules(conf); on || from != conf {
		t.Errorf("set to no: %v %q", on, from)
	}
	os.Mkdir(conf+".d", 0o755)
	os.WriteFile(filepath.Join(conf+".d", "50-x.conf"), []byte("[Network]\nManageForeignRoutingPolicyRules=yes\n"), 0o644)
	if on, _ := networkdForeignRules(conf); !on {
		t.Error("a drop-in did not win")
	}
}

func TestGuardKillSwitch(t *testing.T) {
	tn := office
	set := func(ks, blocking bool, known bool) ipc.Check {
		tn.Status = map[string]dbus.Variant{"KillSwitch": dbus.MakeVariant(ks), "Blocking": dbus.MakeVariant(blocking), "AllowLAN": dbus.MakeVariant(true)}
		tn.BlockKnown = known
		return guardCheck(&tn)
	}
	if c := set(true, true, true); c.Verdict != ipc.VerdictOK || !strings.Contains(strings.Join(c.Details, "\n"), "kill switch on: its block is in the kernel") {
		t.Errorf("on and blocking: %+v", c)
	}
	if c := set(true, false, true); c.Verdict != ipc.VerdictWarning || !strings.Contains(c.Summary, "its block is not in the kernel") {
		t.Errorf("on, not blocking: %+v", c)
	}
	if c := set(true, false, false); c.Verdict != ipc.VerdictOK || !strings.Contains(strings.Join(c.Details, "\n"), "cannot be checked") {
		t.Errorf("on, block unknown: %+v", c)
	}
	if c := set(false, false, true); c.Verdict != ipc.VerdictOK || !strings.Contains(strings.Join(c.Details, "\n"), "kill switch off") {
		t.Errorf("off: %+v", c)
	}
}

func TestResolvConfCheck(t *testing.T) {
	tn := office
	tn.DNSManager = "resolv.conf"
	sys := &System{ResolvConf: ResolvConf{Path: "/etc/resolv.conf", Writer: "NetworkManager"}}
	c := resolvConfCheck(sys, []Tunnel{tn})
	if c.Verdict != ipc.VerdictWarning || c.Summary != "/etc/resolv.conf is written by NetworkManager, but the tunnel's DNS was given to resolv.conf: programs that read the file ask the servers it names instead." {
		t.Errorf("NetworkManager over ours: %+v", c)
	}
	sys.ResolvConf = ResolvConf{Path: "/etc/resolv.conf", WrittenByUs: true}
	if c := resolvConfCheck(sys, []Tunnel{tn}); c.Verdict != ipc.VerdictOK {
		t.Errorf("ours: %+v", c)
	}
	tn.DNSManager = "systemd-resolved"
	sys.ResolvConf = ResolvConf{Path: "/etc/resolv.conf", Symlink: "../run/systemd/resolve/stub-resolv.conf", Writer: "systemd-resolved"}
	if c := resolvConfCheck(sys, []Tunnel{tn}); c.Verdict != ipc.VerdictOK || !strings.Contains(c.Summary, "a link to ../run/systemd/resolve/stub-resolv.conf") {
		t.Errorf("resolved's stub: %+v", c)
	}
	sys.ResolvConf = ResolvConf{Path: "/etc/resolv.conf", Missing: true}
	if c := resolvConfCheck(sys, nil); c.Verdict != ipc.VerdictWarning {
		t.Errorf("missing: %+v", c)
	}
}
