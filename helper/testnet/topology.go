package testnet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Topology is three namespaces: a client (where the code under test runs)
// whose LAN gateway is a peer running a real WireGuard server (Debian's
// wireguard-go), which routes to an "internet" host. No NAT anywhere, so
// the internet host sees true sources.
//
//	client 192.0.2.2/24 2001:db8:1::2/64 ── peer 192.0.2.1 2001:db8:1::1
//	peer 198.51.100.1/24 2001:db8:2::1/64 ── inet 198.51.100.2 2001:db8:2::2
//	tunnel: peer 203.0.113.1/24 2001:db8:3::1/64, client 203.0.113.2 2001:db8:3::2
type Topology struct {
	Client, Peer, Inet string // namespace names

	PeerIface        string // the peer's WireGuard interface
	PeerPublicKey    wgtypes.Key
	ClientPrivateKey wgtypes.Key

	PeerEndpoint4, PeerEndpoint6 netip.AddrPort
	InetAddr4, InetAddr6         netip.Addr
	ClientTunnel4, ClientTunnel6 netip.Addr
}

// New builds a topology that is torn down when the test ends.
func New(tb testing.TB) *Topology {
	tb.Helper()
	RequireRoot(tb)
	CleanStale()
	tp := &Topology{
		Client: NewNS(tb), Peer: NewNS(tb), Inet: NewNS(tb),
		PeerEndpoint4: netip.MustParseAddrPort("192.0.2.1:51820"),
		PeerEndpoint6: netip.MustParseAddrPort("[2001:db8:1::1]:51820"),
		InetAddr4:     netip.MustParseAddr("198.51.100.2"),
		InetAddr6:     netip.MustParseAddr("2001:db8:2::2"),
		ClientTunnel4: netip.MustParseAddr("203.0.113.2"),
		ClientTunnel6: netip.MustParseAddr("2001:db8:3::2"),
	}
	veth(tb, tp.Client, "eth0", "192.0.2.2/24", "2001:db8:1::2/64", tp.Peer, "lan0", "192.0.2.1/24", "2001:db8:1::1/64")
	veth(tb, tp.Peer, "wan0", "198.51.100.1/24", "2001:db8:2::1/64", tp.Inet, "eth0", "198.51.100.2/24", "2001:db8:2::2/64")
	MustRun(tb, tp.Client, "ip", "-4", "route", "add", "default", "via", "192.0.2.1")
	MustRun(tb, tp.Client, "ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
	for _, dst := range []string{"192.0.2.0/24", "203.0.113.0/24"} {
		MustRun(tb, tp.Inet, "ip", "-4", "route", "add", dst, "via", "198.51.100.1")
	}
	for _, dst := range []string{"2001:db8:1::/64", "2001:db8:3::/64"} {
		MustRun(tb, tp.Inet, "ip", "-6", "route", "add", dst, "via", "2001:db8:2::1")
	}
	writeSysctl(tb, tp.Peer, "net/ipv4/ip_forward", "1")
	writeSysctl(tb, tp.Peer, "net/ipv6/conf/all/forwarding", "1")
	tp.startPeer(tb)
	return tp
}

func veth(tb testing.TB, ns1, if1, a4, a6, ns2, if2, b4, b6 string) {
	tb.Helper()
	MustRun(tb, ns1, "ip", "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", ns2)
	for _, s := range []struct{ ns, dev, v4, v6 string }{{ns1, if1, a4, a6}, {ns2, if2, b4, b6}} {
		MustRun(tb, s.ns, "ip", "-4", "addr", "add", s.v4, "dev", s.dev)
		MustRun(tb, s.ns, "ip", "-6", "addr", "add", s.v6, "dev", s.dev, "nodad")
		MustRun(tb, s.ns, "ip", "link", "set", s.dev, "up")
	}
}

func writeSysctl(tb testing.TB, ns, key, value string) {
	tb.Helper()
	MustRun(tb, ns, "sh", "-c", fmt.Sprintf("echo %s > /proc/sys/%s", value, key))
}

// startPeer runs Debian's wireguard-go as the WireGuard server.
func (tp *Topology) startPeer(tb testing.TB) {
	tb.Helper()
	var err error
	peerKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	if tp.ClientPrivateKey, err = wgtypes.GeneratePrivateKey(); err != nil {
		tb.Fatal(err)
	}
	tp.PeerPublicKey = peerKey.PublicKey()
	tp.PeerIface = UniqueName("wgp")
	StartWireguardGo(tb, tp.Peer, tp.PeerIface)
	keyFile := filepath.Join(tb.TempDir(), "peer.key")
	if err := os.WriteFile(keyFile, []byte(peerKey.String()+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	MustRun(tb, tp.Peer, "wg", "set", tp.PeerIface, "private-key", keyFile, "listen-port", "51820",
		"peer", tp.ClientPrivateKey.PublicKey().String(), "allowed-ips", "203.0.113.2/32,2001:db8:3::2/128")
	MustRun(tb, tp.Peer, "ip", "-4", "addr", "add", "203.0.113.1/24", "dev", tp.PeerIface)
	MustRun(tb, tp.Peer, "ip", "-6", "addr", "add", "2001:db8:3::1/64", "dev", tp.PeerIface, "nodad")
	MustRun(tb, tp.Peer, "ip", "link", "set", tp.PeerIface, "up")
}

// StartWireguardGo runs Debian's wireguard-go for iface in namespace ns,
// waits for its UAPI socket, and stops it when the test ends.
func StartWireguardGo(tb testing.TB, ns, iface string) {
	tb.Helper()
	p := StartProc(tb, ns, []string{"LOG_LEVEL=error"}, "wireguard-go", "-f", iface)
	sock := filepath.Join("/var/run/wireguard", iface+".sock")
	tb.Cleanup(func() {
		p.Kill()
		os.Remove(sock)
	})
	WaitFor(tb, 10*time.Second, "wireguard-go socket "+sock, func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
}

// WaitFor polls cond until it holds, failing the test after timeout. It is
// for conditions that have no event to wait on (a file appearing).
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	WaitEvery(tb, timeout, 5*time.Millisecond, what, cond)
}

// WaitEvery is WaitFor checking every interval, for conditions that are
// costly to check (running a command).
func WaitEvery(tb testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// ClientOpts shape the client config that ClientConfig writes.
type ClientOpts struct {
	Addresses  string // default "203.0.113.2/32, 2001:db8:3::2/128"
	AllowedIPs string // default "0.0.0.0/0, ::/0"
	Endpoint6  bool   // use the peer's IPv6 endpoint
	MTU        int
	Table      string
	FwMark     string
	DNS        string
	Extra      string // more [Interface] lines, verbatim
}

// ClientConfig returns a wg-quick config for the client.
func (tp *Topology) ClientConfig(o ClientOpts) string {
	if o.Addresses == "" {
		o.Addresses = "203.0.113.2/32, 2001:db8:3::2/128"
	}
	if o.AllowedIPs == "" {
		o.AllowedIPs = "0.0.0.0/0, ::/0"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Interface]\nPrivateKey = %s\nAddress = %s\n", tp.ClientPrivateKey, o.Addresses)
	if o.MTU != 0 {
		fmt.Fprintf(&b, "MTU = %d\n", o.MTU)
	}
	if o.Table != "" {
		fmt.Fprintf(&b, "Table = %s\n", o.Table)
	}
	if o.FwMark != "" {
		fmt.Fprintf(&b, "FwMark = %s\n", o.FwMark)
	}
	if o.DNS != "" {
		fmt.Fprintf(&b, "DNS = %s\n", o.DNS)
	}
	b.WriteString(o.Extra)
	ep := tp.PeerEndpoint4
	if o.Endpoint6 {
		ep = tp.PeerEndpoint6
	}
	fmt.Fprintf(&b, "\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\nPersistentKeepalive = 25\n", tp.PeerPublicKey, ep, o.AllowedIPs)
	return b.String()
}

// PeerTransfer returns the bytes the peer received from and sent to the
// client.
func (tp *Topology) PeerTransfer(tb testing.TB) (rx, tx uint64) {
	tb.Helper()
	out := MustRun(tb, tp.Peer, "wg", "show", tp.PeerIface, "transfer")
	f := strings.Fields(out)
	if len(f) < 3 {
		return 0, 0
	}
	rx, _ = strconv.ParseUint(f[1], 10, 64)
	tx, _ = strconv.ParseUint(f[2], 10, 64)
	return rx, tx
}

// PeerSeesEndpoint returns the client's endpoint as the peer sees it.
func (tp *Topology) PeerSeesEndpoint(tb testing.TB) string {
	tb.Helper()
	f := strings.Fields(MustRun(tb, tp.Peer, "wg", "show", tp.PeerIface, "endpoints"))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}
