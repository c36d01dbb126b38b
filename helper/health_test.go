package main

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// healthTimeout is the bound for stalled after the peer stops,
// and for ok after it is back.
const healthTimeout = 20 * time.Second

// TestHealthStallAndRecover: the client pings through a tunnel; the
// peer's WireGuard stops (wireguard-go killed, its sessions gone): the
// helper says stalled, on the bus and in Status, naming the peer; the
// peer starts again with the same key: ok by itself (the heal's
// handshake), and the pings get through.
func TestHealthStallAndRecover(t *testing.T) {
	s := startService(t)
	hs := s.watchHealth(t)
	name := netns.UniqueName("wgh")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{AllowedIPs: "203.0.113.0/24, 198.51.100.0/24", NoKeepalive: true}))
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	pinger(t, s.tp.Client, "198.51.100.2")
	hs.waitFrom(t, 0, name, ipc.HealthOK, healthTimeout)
	if st := s.status(t, name); st.Health != ipc.HealthOK {
		t.Errorf("Status health %q, want ok", st.Health)
	}

	from := hs.mark()
	s.tp.StopPeer(t)
	stalled, took := hs.waitFrom(t, from, name, ipc.HealthStalled, healthTimeout)
	t.Logf("stalled %v after the peer stopped: %+v", took.Round(time.Millisecond), stalled)
	if stalled.Peer != s.tp.PeerPublicKey.String() || stalled.Reason == "" || stalled.Since == 0 {
		t.Errorf("stalled signal %+v: want the peer's key, a reason and since", stalled)
	}
	if st := s.status(t, name); st.Health != ipc.HealthStalled || st.HealthPeer != stalled.Peer || st.HealthSince != stalled.Since {
		t.Errorf("Status health %q peer %q since %d; want those of the signal", st.Health, st.HealthPeer, st.HealthSince)
	}

	from = hs.mark()
	s.tp.StartPeer(t)
	_, took = hs.waitFrom(t, from, name, ipc.HealthOK, healthTimeout)
	t.Logf("ok %v after the peer came back", took.Round(time.Millisecond))
	if !pingOnce(t, s.tp.Client, "198.51.100.2", 5) {
		t.Error("no ping through the tunnel after it healed")
	}
	if !strings.Contains(s.proc.Stderr(), "is stalled") {
		t.Errorf("the helper did not log the stall:\n%s", s.proc.Stderr())
	}
}

// TestHealthIdleSplitTunnel: a split tunnel without PersistentKeepalive,
// used once and then idle, stays ok over 200 s of a clock running 20
// times fast (10 s of real time), though its handshake grows older than
// REJECT_AFTER_TIME: it sends nothing, so nothing needs an answer.
func TestHealthIdleSplitTunnel(t *testing.T) {
	s := startService(t, "--health-speed", "20")
	hs := s.watchHealth(t)
	name := netns.UniqueName("wgi")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{AllowedIPs: "203.0.113.0/24", NoKeepalive: true}))
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if !pingOnce(t, s.tp.Client, "203.0.113.1", 5) {
		t.Fatal("no ping through the tunnel")
	}
	hs.waitFrom(t, 0, name, ipc.HealthOK, healthTimeout)
	// 200 s of the helper's clock, as it says on SIGUSR1.
	start := s.healthClock(t)
	netns.WaitEvery(t, 60*time.Second, 500*time.Millisecond, "200 s of the helper's clock", func() bool {
		return s.healthClock(t) > start+200
	})
	if got := hs.all(); len(got) != 2 || got[0].Health != ipc.HealthWaiting || got[1].Health != ipc.HealthOK {
		t.Errorf("health changes %+v; want waiting, then ok and nothing more", got)
	}
	if st := s.status(t, name); st.Health != ipc.HealthOK {
		t.Errorf("health %q after 200 s idle, want ok", st.Health)
	}
}

// logindPolicy is Debian's D-Bus policy for logind: root may own its
// name, which the test's stand-in does.
const logindPolicy = "/usr/share/dbus-1/system.d/org.freedesktop.login1.conf"

// TestHealthResume: a stand-in logind on the test's bus says the machine
// resumed (PrepareForSleep(false)): the helper sets the endpoint again
// and handshakes at once, which the peer's handshake time shows. It is
// said every second until then: wireguard-go sends at most one
// initiation every 5 s (REKEY_TIMEOUT), and the test does not sleep.
func TestHealthResume(t *testing.T) {
	if _, err := os.Stat(logindPolicy); err != nil {
		t.Fatalf("%s: %v (systemd's package has it)", logindPolicy, err)
	}
	s := startServiceWith(t, sysbus.Options{ExtraPolicies: []string{logindPolicy}}, nil)
	hs := s.watchHealth(t)
	name := netns.UniqueName("wgr")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{AllowedIPs: "203.0.113.0/24"}))
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	hs.waitFrom(t, 0, name, ipc.HealthOK, healthTimeout)
	first := s.peerHandshake(t)

	logind := s.bus.Conn(t)
	if reply, err := logind.RequestName("org.freedesktop.login1", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.login1: %v, %v", reply, err)
	}
	netns.WaitEvery(t, 30*time.Second, time.Second, "a new handshake after the resume", func() bool {
		if err := logind.Emit("/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", false); err != nil {
			t.Fatal(err)
		}
		return s.peerHandshake(t) != first
	})
	netns.WaitFor(t, 10*time.Second, "the heal's log line", func() bool {
		return strings.Contains(s.proc.Stderr(), "(resumed from sleep): endpoints set again")
	})
}

// TestHealthDynamicEndpoint: the endpoint is a host name (served by
// dnsmasq); the name moves to the peer's second address while the old
// one goes dark (its WireGuard packets dropped). The tunnel stalls, the
// heal resolves the name again and sets the new address: ok, traffic
// flows, and the device's endpoint is the new address.
func TestHealthDynamicEndpoint(t *testing.T) { dynamicEndpoint(t, false) }

// TestHealthDynamicEndpointKillSwitch is TestHealthDynamicEndpoint with
// a full tunnel, whose kill switch (on by default) lets only the known
// endpoints through: the heal moves the block with the endpoint.
func TestHealthDynamicEndpointKillSwitch(t *testing.T) { dynamicEndpoint(t, true) }

func dynamicEndpoint(t *testing.T, full bool) {
	fs := privatefs.New(t)
	if err := os.WriteFile(fs.Path("resolv.conf"), []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServiceIn(t, fs)
	hs := s.watchHealth(t)
	const host = "vpn.example"
	netns.IP(t, s.tp.Peer, "addr add 192.0.2.3/24 dev lan0")
	dns := netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("192.0.2.1"), map[string]netip.Addr{host: netip.MustParseAddr("192.0.2.1")})
	name := netns.UniqueName("wgd")
	opts := netns.ClientOpts{AllowedIPs: "203.0.113.0/24, 198.51.100.0/24"}
	if full {
		opts.AllowedIPs = "" // 0.0.0.0/0, ::/0
	}
	conf := s.tp.ClientConfig(opts)
	conf = strings.Replace(conf, "Endpoint = "+s.tp.PeerEndpoint4.String(), "Endpoint = "+host+":51820", 1)
	s.writeConf(t, name, conf)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	pinger(t, s.tp.Client, "198.51.100.2")
	hs.waitFrom(t, 0, name, ipc.HealthOK, healthTimeout)
	if st := s.status(t, name); st.Blocking != full {
		t.Fatalf("blocking %v, want %v (the kill switch of a full tunnel)", st.Blocking, full)
	}

	from := hs.mark()
	netns.MustRun(t, s.tp.Peer, "nft", "add table inet dark; add chain inet dark in { type filter hook input priority 0; }; "+
		"add rule inet dark in ip daddr 192.0.2.1 udp dport 51820 drop")
	dns.Stop(t)
	netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("192.0.2.1"), map[string]netip.Addr{host: netip.MustParseAddr("192.0.2.3")})
	_, took := hs.waitFrom(t, from, name, ipc.HealthStalled, healthTimeout)
	t.Logf("stalled %v after the old address went dark", took.Round(time.Millisecond))
	from = hs.mark()
	_, took = hs.waitFrom(t, from, name, ipc.HealthOK, healthTimeout)
	t.Logf("ok %v after the stall", took.Round(time.Millisecond))
	if ep := s.status(t, name).Endpoint; ep != "192.0.2.3:51820" {
		t.Errorf("endpoint %q after the heal, want the name's new address 192.0.2.3:51820", ep)
	}
	if !pingOnce(t, s.tp.Client, "198.51.100.2", 5) {
		t.Error("no ping through the tunnel after the heal")
	}
}

// libDir is the --lib-dir the test's helper runs with.
func (s *service) libDir(t *testing.T) string {
	t.Helper()
	for i, a := range s.args {
		if a == "--lib-dir" && i+1 < len(s.args) {
			return s.args[i+1]
		}
	}
	t.Fatal("no --lib-dir")
	return ""
}

// TestAutoconnectBoot: a tunnel set to autoconnect boot, never connected,
// comes up when the helper starts after a reboot (the journal directory
// in /run wiped, no wish left); the boot unit's condition file lists it
// while it is set, and goes when it is off.
func TestAutoconnectBoot(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wga")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{AllowedIPs: "203.0.113.0/24"}))
	c := s.client(t)
	if err := c.SetTunnelOption(context.Background(), name, "autoconnect", "sometimes"); !errors.Is(err, ipc.ErrInvalidArgs) {
		t.Errorf("autoconnect sometimes: %v, want InvalidArgs", err)
	}
	if err := c.SetTunnelOption(context.Background(), name, "autoconnect", "boot"); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(s.libDir(t), "autoconnect")
	if data, err := os.ReadFile(marker); err != nil || string(data) != name+"\n" {
		t.Errorf("%s: %q, %v; want the tunnel's name", marker, data, err)
	}
	if st := s.status(t, name); st.Autoconnect != "boot" || st.State != ipc.StateDisconnected {
		t.Errorf("status: autoconnect %q, state %s; want boot, disconnected", st.Autoconnect, st.State)
	}
	s.proc.Signal(syscall.SIGTERM)
	s.proc.Wait(t, 20*time.Second)
	// A reboot: /run is empty.
	ents, _ := os.ReadDir(s.stateDir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(s.stateDir, e.Name()))
	}
	s.start(t)
	s.waitRestore(t)
	if st := s.status(t, name); st.State != ipc.StateConnected {
		t.Fatalf("after the start: %s, want connected (autoconnect boot)\n%s", st.State, s.proc.Stderr())
	}
	if !pingOnce(t, s.tp.Client, "203.0.113.1", 5) {
		t.Error("no ping through the tunnel")
	}
	if err := s.client(t).SetTunnelOption(context.Background(), name, "autoconnect", "off"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s with no tunnel set to autoconnect: %v", marker, err)
	}
}

// TestHealthNetworkChange: an address added on the client's LAN link
// (the network changed under the tunnel) makes the helper set the
// endpoint again once the network has been quiet for a second; the
// tunnel's own connect, whose addresses and routes are its link's, does
// not.
func TestHealthNetworkChange(t *testing.T) {
	s := startService(t)
	hs := s.watchHealth(t)
	name := netns.UniqueName("wgn")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{AllowedIPs: "203.0.113.0/24"}))
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	hs.waitFrom(t, 0, name, ipc.HealthOK, healthTimeout)
	// Two seconds of the helper's clock after ok: a heal for the connect
	// itself would have run by now.
	start := s.healthClock(t)
	netns.WaitEvery(t, 20*time.Second, 200*time.Millisecond, "two seconds of the helper's clock", func() bool {
		return s.healthClock(t) >= start+2
	})
	if strings.Contains(s.proc.Stderr(), "the network changed") {
		t.Errorf("the tunnel's own connect was taken for a network change:\n%s", s.proc.Stderr())
	}
	netns.IP(t, s.tp.Client, "addr add 192.0.2.99/24 dev eth0")
	netns.WaitFor(t, 20*time.Second, "the heal after the network change", func() bool {
		return strings.Contains(s.proc.Stderr(), "(the network changed): endpoints set again")
	})
}
