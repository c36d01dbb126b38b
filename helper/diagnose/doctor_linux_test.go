package diagnose

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// peerDNS is the tunnel's DNS server: dnsmasq on the peer's tunnel
// address, which logs each query with its source.
var peerDNS = netip.MustParseAddr("203.0.113.1")

// TestDoctorCleanFullTunnel: a dual-stack full tunnel whose DNS server is
// inside it, on a machine with nothing else: every check is ok, the
// active DNS query reached the tunnel's server from the tunnel address,
// and the MTU probe (of the DNS server, picked by itself) passes.
func TestDoctorCleanFullTunnel(t *testing.T) {
	s := newSetup(t, setupOpts{client: netns.ClientOpts{DNS: peerDNS.String()}})
	dns := netns.StartDNS(t, s.tp.Peer, peerDNS, nil)
	s.handshake(t)
	rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true})
	for _, c := range rep.Checks {
		if c.Verdict != ipc.VerdictOK {
			t.Errorf("check %s: %s: %s %q", c.ID, c.Verdict, c.Summary, c.Details)
		}
	}
	groups := map[string]bool{}
	for _, c := range rep.Checks {
		groups[c.Group] = true
	}
	for _, g := range []string{ipc.GroupLeaks, ipc.GroupConflicts, ipc.GroupMTU, ipc.GroupHealth} {
		if !groups[g] {
			t.Errorf("no check of group %s:\n%s", g, reportText(rep))
		}
	}
	want(t, rep, "leaks.ipv4-default", ipc.VerdictOK, "All IPv4 traffic to the internet goes through "+s.name+".")
	want(t, rep, "leaks.ipv6-default", ipc.VerdictOK, "All IPv6 traffic to the internet goes through "+s.name+".")
	want(t, rep, "leaks.dns", ipc.VerdictOK, "Every DNS server /etc/resolv.conf names is reached through "+s.name+".")
	q := want(t, rep, "leaks.dns-query", ipc.VerdictOK, "went to 203.0.113.1 through "+s.name+", which answered.")
	name := strings.Fields(strings.TrimPrefix(q.Summary, "A test query for "))[0]
	dns.WaitQuery(t, name, s.tp.ClientTunnel4)
	want(t, rep, "mtu.path", ipc.VerdictOK, "Packets of the tunnel's full MTU (1420 bytes) reach 203.0.113.1.")
	want(t, rep, "health.handshake", ipc.VerdictOK, "'s last handshake was")
	if t.Failed() {
		t.Logf("report:\n%s", reportText(rep))
	}
	// The same probe over IPv6, to the peer's tunnel address.
	rep = s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: netip.MustParseAddr("2001:db8:3::1")})
	want(t, rep, "mtu.path", ipc.VerdictOK, "Packets of the tunnel's full MTU (1420 bytes) reach 2001:db8:3::1.")
}
