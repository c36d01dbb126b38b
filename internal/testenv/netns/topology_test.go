package netns

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// TestTopology checks the underlay: the client reaches the internet host
// through the peer without a tunnel, with its own LAN address as source
// since there is no NAT, and the peer's WireGuard server is up.
func TestTopology(t *testing.T) {
	RequireRoot(t)
	var tp *Topology
	// Registered before New, so it runs after New's cleanups.
	t.Cleanup(func() {
		if tp != nil {
			assertGone(t, tp)
		}
	})
	t0 := time.Now()
	tp = New(t)
	t.Logf("New took %v", time.Since(t0))

	MustRun(t, tp.Client, "ping", "-c1", "-W2", "192.0.2.1")
	MustRun(t, tp.Client, "ping", "-6", "-c1", "-W2", "2001:db8:1::1")

	for _, c := range []struct {
		listen string
		want   netip.Addr
	}{
		{"198.51.100.2:0", netip.MustParseAddr("192.0.2.2")},
		{"[2001:db8:2::2]:0", netip.MustParseAddr("2001:db8:1::2")},
	} {
		at := EchoSource(t, tp.Inet, c.listen)
		if src := SourceSeenBy(t, tp.Client, at.String()); src != c.want {
			t.Errorf("without a tunnel, %s sees source %s, want %s", at, src, c.want)
		}
	}

	// UDP too: the internet host sees the client's LAN address.
	srv := ListenUDP(t, tp.Inet, "198.51.100.2:0")
	cl, err := DialUDP(tp.Client, srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	_, from, err := srv.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(from.String(), "192.0.2.2:") {
		t.Errorf("UDP from the client arrives from %s, want 192.0.2.2:…", from)
	}

	link := MustRun(t, tp.Peer, "ip", "-o", "link", "show", "dev", tp.PeerIface)
	if !strings.Contains(link, ",UP,") && !strings.Contains(link, "<UP") {
		t.Errorf("peer's %s is not up: %s", tp.PeerIface, link)
	}
	if _, err := os.Stat(uapisock.Path(tp.PeerIface)); err != nil {
		t.Errorf("peer's wireguard-go has no socket: %v", err)
	}
	if port := strings.TrimSpace(MustRun(t, tp.Peer, "wg", "show", tp.PeerIface, "listen-port")); port != "51820" {
		t.Errorf("peer listens on port %q, want 51820", port)
	}
	if got := MustRun(t, tp.Peer, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"); got != "1\n1\n" {
		t.Errorf("peer forwarding sysctls = %q, want both 1", got)
	}
}

// TestTopologyTunnel proves the peer is a working WireGuard server: a
// client wireguard-go configured by hand reaches the internet host
// through it with its tunnel address as source.
func TestTopologyTunnel(t *testing.T) {
	RequireRoot(t)
	tp := New(t)
	at := EchoSource(t, tp.Inet, "198.51.100.2:0")

	iface := UniqueName("wgc")
	StartWireguardGo(t, tp.Client, iface)
	keyFile := filepath.Join(t.TempDir(), "client.key")
	if err := os.WriteFile(keyFile, []byte(tp.ClientPrivateKey.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	MustRun(t, tp.Client, "wg", "set", iface, "private-key", keyFile,
		"peer", tp.PeerPublicKey.String(), "endpoint", tp.PeerEndpoint4.String(), "allowed-ips", "198.51.100.0/24")
	IP(t, tp.Client,
		"addr add 203.0.113.2/32 dev "+iface,
		"link set "+iface+" up",
		"route add 198.51.100.2/32 dev "+iface)

	if src := SourceSeenBy(t, tp.Client, at.String()); src != tp.ClientTunnel4 {
		t.Errorf("through the tunnel, the internet host sees source %s, want %s", src, tp.ClientTunnel4)
	}
	if rx, _ := tp.PeerTransfer(t); rx == 0 {
		t.Error("the peer received nothing from the client")
	}
	if ep := tp.PeerSeesEndpoint(t); !strings.HasPrefix(ep, "192.0.2.2:") {
		t.Errorf("the peer sees the client at %s, want 192.0.2.2:…", ep)
	}
}

// TestTeardown builds a topology in a subtest and checks that nothing of
// it is left once the subtest is over.
func TestTeardown(t *testing.T) {
	RequireRoot(t)
	var tp *Topology
	t.Run("build", func(t *testing.T) { tp = New(t) })
	if tp == nil {
		t.Fatal("New failed")
	}
	assertGone(t, tp)
}

// assertGone checks that tp's namespaces, its WireGuard server process,
// socket and marker no longer exist.
func assertGone(t *testing.T, tp *Topology) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, ns := range []string{tp.Client, tp.Peer, tp.Inet} {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s still exists", ns)
		}
	}
	if pids := wireguardGoPids(tp.PeerIface); len(pids) > 0 {
		t.Errorf("wireguard-go for %s still runs: pids %v", tp.PeerIface, pids)
	}
	for _, f := range []string{uapisock.Path(tp.PeerIface), filepath.Join(markerDir, tp.PeerIface)} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", f, err)
		}
	}
}
