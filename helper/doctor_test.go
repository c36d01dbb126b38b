package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestDoctorOverDBus runs the installed way: the helper as the D-Bus
// service (real bus policy, real polkitd) in the client namespace, and
// `wgtray doctor` as a user outside group wgtray, whom polkit would
// refuse everything else. A clean IPv4 full tunnel: exit 0. Then a
// tunnel without DNS on a LAN whose resolv.conf names the LAN's server:
// exit 1, the DNS leak said so, and the route explainer answers too.
// WGTRAY_DOCTOR_OUT, when set, names a file for the second output (the
// README's example).
func TestDoctorOverDBus(t *testing.T) {
	fs := privatefs.New(t)
	if err := os.WriteFile(fs.Path("resolv.conf"), []byte("# the LAN's\nnameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServiceIn(t, fs, "--dns=resolv.conf")
	netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("203.0.113.1"), nil)
	netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("192.0.2.1"), nil)
	stranger := sysbus.NewUser(t)
	sig := s.watch(t)

	// Nothing connected: the machine's checks alone, and a stored tunnel
	// that is down is itself the problem when named.
	out, errOut, code := s.cli(t, &stranger, "doctor")
	if code != 0 || !strings.Contains(out, "wgtray doctor: this machine (no tunnel connected): 0 problem(s)") {
		t.Errorf("doctor with nothing connected: exit %d\n%s\nstderr: %s", code, out, errOut)
	}

	clean := netns.UniqueName("home")
	s.writeConf(t, clean, s.tp.ClientConfig(netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0", DNS: "203.0.113.1"}))
	if _, errOut, code := s.cli(t, nil, "connect", clean); code != 0 {
		t.Fatalf("connect: %s", errOut)
	}
	sig.waitFor(t, clean, ipc.StateConnected)
	handshake(t, s)
	out, errOut, code = s.cli(t, &stranger, "doctor", clean)
	if code != 0 || !strings.Contains(out, "0 problem(s), 0 warning(s)") {
		t.Errorf("doctor of a clean tunnel: exit %d\n%s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "checking: a test DNS query, MTU pings and the endpoints") {
		t.Errorf("no progress line: %q", errOut)
	}
	out, _, code = s.cli(t, &stranger, "doctor", "--json", "--no-probes")
	var rep ipc.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Tunnels) != 1 || rep.Tunnels[0] != clean {
		t.Errorf("doctor --json: exit %d, %v: %s", code, err, out)
	}
	// A full tunnel's kill switch is on by default, and its block holds.
	for _, c := range rep.Checks {
		if c.ID == "leaks.guard" && (c.Verdict != ipc.VerdictOK || !strings.Contains(strings.Join(c.Details, "\n"), "kill switch on: its block is in the kernel")) {
			t.Errorf("leaks.guard: %+v", c)
		}
	}
	routeOut, _, code := s.cli(t, &stranger, "doctor", "route", "198.51.100.2", "--proto", "tcp", "--port", "443")
	out = routeOut
	if code != 0 || !strings.Contains(out, "198.51.100.2 goes through tunnel "+clean+" (rule 32765: everything without WireGuard's mark uses table 51820)") ||
		!strings.Contains(out, "WireGuard's own packets to 198.51.100.2 (fwmark 0xca6c) go via eth0 (gateway 192.0.2.1) (rule 32766: the main table)") {
		t.Errorf("doctor route: exit %d:\n%s", code, out)
	}
	if _, errOut, code := s.cli(t, nil, "disconnect", clean); code != 0 {
		t.Fatalf("disconnect: %s", errOut)
	}

	leaky := netns.UniqueName("office")
	s.writeConf(t, leaky, s.tp.ClientConfig(netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0"}))
	out, _, code = s.cli(t, &stranger, "doctor", leaky)
	if code != 1 || !strings.Contains(out, "PROBLEM  [health "+leaky+"] "+leaky+" is disconnected") {
		t.Errorf("doctor of a disconnected tunnel: exit %d\n%s", code, out)
	}
	if _, errOut, code := s.cli(t, nil, "connect", leaky); code != 0 {
		t.Fatalf("connect: %s", errOut)
	}
	sig.waitFor(t, leaky, ipc.StateConnected)
	handshake(t, s)
	out, errOut, code = s.cli(t, &stranger, "doctor", "--mtu-host", "203.0.113.1")
	if code != 1 || !strings.Contains(out, "PROBLEM  [leaks "+leaky+"] DNS queries go around the tunnel: /etc/resolv.conf uses 192.0.2.1 (via eth0), outside "+leaky) {
		t.Errorf("doctor of a leaky tunnel: exit %d\n%s\nstderr: %s", code, out, errOut)
	}
	t.Logf("wgtray doctor said:\n%s", out)
	if path := os.Getenv("WGTRAY_DOCTOR_OUT"); path != "" {
		os.WriteFile(filepath.Clean(path), []byte("$ wgtray doctor route 198.51.100.2 --proto tcp --port 443\n"+routeOut+"\n$ wgtray doctor --mtu-host 203.0.113.1\n"+out), 0o644)
	}
	s.alive(t)
}

// handshake pings through the tunnel until the peer has answered.
func handshake(t *testing.T, s *service) {
	t.Helper()
	netns.WaitEvery(t, 30*time.Second, 200*time.Millisecond, "a ping through the tunnel", func() bool {
		_, err := netns.Run(s.tp.Client, "ping", "-c", "1", "-W", "2", "203.0.113.1")
		return err == nil
	})
}
