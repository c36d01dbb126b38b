package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// dnsmasq runs a dnsmasq on the peer's LAN address that answers name
// with addr, and returns it to be killed (netns.DNSServer cannot be
// stopped).
func dnsmasq(t *testing.T, ns, name, addr string) *netns.Proc {
	t.Helper()
	p := netns.StartProc(t, ns, nil, "/bin/sh", "-c", `exec "$@" 2>&1`, "sh", "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=192.0.2.1", "--port=53", "--user=root", "--pid-file=",
		"--log-facility=-", "--address=/"+name+"/"+addr)
	p.WaitLine(t, "started", 20*time.Second)
	return p
}

// TestDoctorEndpointName: a peer's endpoint given by name, resolved at
// connect time; then the name's address changes: the health check says
// the tunnel still uses the old one; then the name no longer resolves
// (its server gone): the check says reconnecting would fail.
func TestDoctorEndpointName(t *testing.T) {
	netns.RequireRoot(t)
	tp := netns.New(t)
	first := dnsmasq(t, tp.Peer, "vpn.test", "192.0.2.1")
	s := newSetupOn(t, tp, setupOpts{client: netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32"},
		endpoint: "vpn.test:51820"})
	s.handshake(t)
	rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: tp.InetAddr4})
	want(t, rep, "health.endpoint", ipc.VerdictOK, "The peers' endpoints resolve as when the tunnel connected.")

	first.Kill()
	<-first.Exited()
	second := dnsmasq(t, tp.Peer, "vpn.test", "192.0.2.9")
	rep = s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: tp.InetAddr4})
	c := want(t, rep, "health.endpoint", ipc.VerdictWarning, "The endpoint vpn.test now resolves to 192.0.2.9, but the tunnel still uses 192.0.2.1, what it resolved to at connect time.")
	if c.Fix != "Reconnect the tunnel to use the new address." {
		t.Errorf("fix %q", c.Fix)
	}

	second.Kill()
	<-second.Exited()
	rep = s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: tp.InetAddr4})
	c = want(t, rep, "health.endpoint", ipc.VerdictWarning, "The endpoint vpn.test no longer resolves")
	if !strings.Contains(c.Summary, "reconnecting would fail") {
		t.Errorf("summary %q", c.Summary)
	}
}
