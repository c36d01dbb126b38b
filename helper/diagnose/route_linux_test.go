package diagnose

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// ipRoute is one answer of `ip -j route get`.
type ipRoute struct {
	Type     string `json:"type"`
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Prefsrc  string `json:"prefsrc"`
	Table    string `json:"table"`
	Protocol string `json:"protocol"`
}

// ipRouteGet runs `ip -j route get [fibmatch] DEST [mark M] [ipproto P
// dport N]` in ns and returns its answer, or the kernel's error.
func ipRouteGet(t *testing.T, ns string, fibmatch bool, d dest, mark uint32) (ipRoute, string) {
	t.Helper()
	args := []string{"-j", "route", "get"}
	if fibmatch {
		args = append(args, "fibmatch")
	}
	args = append(args, d.addr.String())
	if mark != 0 {
		args = append(args, "mark", fmt.Sprintf("%#x", mark))
	}
	if d.proto != "" {
		args = append(args, "ipproto", d.proto)
		if d.port != 0 {
			args = append(args, "dport", fmt.Sprint(d.port))
		}
	}
	out, err := netns.Run(ns, "ip", args...)
	if err != nil {
		if i := strings.Index(out, "RTNETLINK answers: "); i >= 0 {
			return ipRoute{}, strings.ToLower(strings.TrimSpace(out[i+len("RTNETLINK answers: "):]))
		}
		t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
	}
	var rs []ipRoute
	if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 {
		t.Fatalf("ip %s: %q: %v", strings.Join(args, " "), out, err)
	}
	return rs[0], ""
}

type dest struct {
	addr  netip.Addr
	proto string
	port  uint16
}

func (d dest) String() string {
	if d.proto == "" {
		return d.addr.String()
	}
	return fmt.Sprintf("%s %s/%d", d.addr, d.proto, d.port)
}

func tableNumber(s string) uint32 {
	switch s {
	case "", "main":
		return tableMain
	case "local":
		return tableLocal
	case "default":
		return tableDefault
	}
	var n uint32
	fmt.Sscan(s, &n)
	return n
}

// TestRouteExplainerMatchesIPRouteGet asks the explainer and `ip route
// get` (plain and fibmatch) about 20 destinations, each as an ordinary
// packet and as one with the tunnel's fwmark, on a client whose routing
// has a bit of everything: an IPv4 full tunnel with the leak guard's
// unreachable IPv6 route, a more specific route through the LAN, a
// blackhole, a rule by destination, one by protocol and port, one by
// uid that does not apply. The answers agree field by field: 40 in all.
func TestRouteExplainerMatchesIPRouteGet(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}})
	netns.IP(t, s.tp.Client,
		"route add 198.51.100.0/25 via 192.0.2.1 proto dhcp",
		"route add blackhole 203.0.113.128/26",
		"route add default via 192.0.2.1 table 100",
		"rule add pref 1000 to 198.51.100.200/32 lookup 100",
		"route add 198.51.100.0/24 via 192.0.2.1 table 101 proto static",
		"rule add pref 1001 ipproto udp dport 53 lookup 101",
		"rule add pref 1002 uidrange 1000-1000 lookup 100",
		"route add 2001:db8:4::/48 via 2001:db8:1::1 proto ra")
	d := func(s string) dest { return dest{addr: netip.MustParseAddr(s)} }
	dests := []dest{
		d("9.9.9.9"), d("198.51.100.2"), d("198.51.100.1"), d("198.51.100.100"), d("198.51.100.200"),
		d("203.0.113.1"), d("203.0.113.2"), d("203.0.113.130"), d("192.0.2.1"), d("192.0.2.2"),
		d("192.0.2.77"), d("127.0.0.1"), {netip.MustParseAddr("198.51.100.150"), "udp", 53}, {netip.MustParseAddr("198.51.100.150"), "tcp", 443},
		d("2001:db8:1::1"), d("2001:db8:1::2"), d("2001:db8:2::2"), d("::1"), d("2620:fe::fe"), d("2001:db8:4::9"),
	}
	if len(dests) != 20 {
		t.Fatalf("%d destinations", len(dests))
	}
	checked := 0
	for _, dst := range dests {
		r := s.explain(t, ipc.DiagnoseOptions{Route: dst.addr, Proto: dst.proto, Port: dst.port})
		hops := []*ipc.Hop{&r.Ordinary}
		if r.Marked == nil {
			t.Errorf("%v: no answer for the marked packet", dst)
			continue
		}
		hops = append(hops, r.Marked)
		for _, h := range hops {
			what := fmt.Sprintf("%v mark %#x", dst, h.Mark)
			plain, perr := ipRouteGet(t, s.tp.Client, false, dst, h.Mark)
			fib, _ := ipRouteGet(t, s.tp.Client, true, dst, h.Mark)
			if perr != "" || h.Error != "" {
				if perr != h.Error {
					t.Errorf("%s: explainer error %q, ip route get %q", what, h.Error, perr)
				}
				checked++
				continue
			}
			if h.Dev != plain.Dev || h.Via != plain.Gateway || h.Src != plain.Prefsrc {
				t.Errorf("%s: explainer dev %q via %q src %q, ip route get %+v", what, h.Dev, h.Via, h.Src, plain)
			}
			if plain.Table != "" && h.Table != tableNumber(plain.Table) || plain.Table == "" && h.Table != tableMain && h.Type != "local" {
				t.Errorf("%s: explainer table %d, ip route get %q", what, h.Table, plain.Table)
			}
			typ := fib.Type
			if typ == "" {
				typ = "unicast"
			}
			proto := fib.Protocol
			if proto == "" {
				proto = "boot"
			}
			if h.Prefix != fib.Dst || h.Type != typ || h.RouteBy != proto {
				t.Errorf("%s: explainer route %s %s proto %s, ip route get fibmatch %+v", what, h.Type, h.Prefix, h.RouteBy, fib)
			}
			if h.Rule == "" {
				t.Errorf("%s: no rule named: %+v", what, h)
			}
			checked++
		}
	}
	// The rules that decided, for the destinations that have their own.
	for _, c := range []struct {
		dst  dest
		prio uint32
	}{
		{d("198.51.100.200"), 1000}, {dests[12], 1001}, {dests[13], 32765}, {d("9.9.9.9"), 32765}, {d("192.0.2.1"), 32764}, {d("127.0.0.1"), 0},
	} {
		r := s.explain(t, ipc.DiagnoseOptions{Route: c.dst.addr, Proto: c.dst.proto, Port: c.dst.port})
		if r.Ordinary.RulePriority != c.prio || r.Ordinary.Rule == "" {
			t.Errorf("%v: decided by rule %d %q (%s), want %d", c.dst, r.Ordinary.RulePriority, r.Ordinary.Rule, r.Ordinary.Sentence, c.prio)
		}
	}
	if checked != 40 {
		t.Errorf("%d answers compared with ip route get, want 40", checked)
	}
}

// TestRouteExplainerSourceRule: a rule that selects by source address
// applies to a connecting socket's second lookup, once the tunnel's
// address is its source: the explainer follows it, as `ip route get DEST
// from SRC` does, and says so.
func TestRouteExplainerSourceRule(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"}})
	netns.IP(t, s.tp.Client, "route add default via 192.0.2.1 table 100", "rule add pref 900 from 203.0.113.2 to 198.51.100.0/24 lookup 100")
	r := s.explain(t, ipc.DiagnoseOptions{Route: s.tp.InetAddr4})
	out := netns.MustRun(t, s.tp.Client, "ip", "-j", "route", "get", "198.51.100.2", "from", "203.0.113.2")
	var rs []ipRoute
	if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 {
		t.Fatalf("ip route get: %q: %v", out, err)
	}
	h := r.Ordinary
	if h.RulePriority != 900 || h.Dev != rs[0].Dev || h.Via != rs[0].Gateway || h.Table != tableNumber(rs[0].Table) || h.Dev != "eth0" {
		t.Errorf("explainer %+v, ip route get from 203.0.113.2: %+v", h, rs[0])
	}
	if w := "198.51.100.2 (from 203.0.113.2) goes around the tunnel via eth0: rule 900 (packets from 203.0.113.2/32 to 198.51.100.0/24 use table 100) comes before the tunnel's rules"; !strings.HasPrefix(h.Sentence, w) {
		t.Errorf("sentence %q, want %q…", h.Sentence, w)
	}
	// Elsewhere the source rule does not apply.
	if r := s.explain(t, ipc.DiagnoseOptions{Route: netip.MustParseAddr("203.0.113.99")}); r.Ordinary.Tunnel != s.name {
		t.Errorf("203.0.113.99: %+v", r.Ordinary)
	}
}
