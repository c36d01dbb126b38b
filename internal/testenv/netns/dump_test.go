package netns

import (
	"strings"
	"testing"
)

// TestDump checks that a dump is deterministic and sees a change.
func TestDump(t *testing.T) {
	RequireRoot(t)
	tp := New(t)
	a, b := Dump(t, tp.Client), Dump(t, tp.Client)
	if a != b {
		t.Fatalf("two dumps of an unchanged namespace differ:\n%s", DumpDiff(a, b))
	}
	for _, want := range []string{"== rules -4\n0:\tfrom all lookup local\n", "default via 192.0.2.1 dev eth0", "default via 2001:db8:1::1 dev eth0",
		"eth0 inet 192.0.2.2/24", "net.ipv4.ip_forward=0"} {
		if !strings.Contains(a, want) {
			t.Errorf("dump lacks %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "fe80::") || strings.Contains(a, "lft") || strings.Contains(a, "link/ether") {
		t.Errorf("dump has volatile details:\n%s", a)
	}

	IP(t, tp.Client, "route add 198.51.100.0/24 via 192.0.2.1 table 1234")
	c := Dump(t, tp.Client)
	diff := DumpDiff(a, c)
	if c == a || !strings.Contains(diff, "198.51.100.0/24 via 192.0.2.1 dev eth0 table 1234") {
		t.Errorf("adding a route shows as:\n%s", diff)
	}
	IP(t, tp.Client, "route del 198.51.100.0/24 via 192.0.2.1 table 1234")
	if d := Dump(t, tp.Client); d != a {
		t.Errorf("removing the route again leaves:\n%s", DumpDiff(a, d))
	}

	// The peer's dump shows its forwarding and its tunnel link.
	p := Dump(t, tp.Peer)
	for _, want := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", tp.PeerIface + ": <POINTOPOINT"} {
		if !strings.Contains(p, want) {
			t.Errorf("peer dump lacks %q:\n%s", want, p)
		}
	}
}
