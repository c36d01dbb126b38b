package netns

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// Topology is three namespaces: a client, where the code under test runs,
// whose LAN gateway is a peer running a real WireGuard server (Debian's
// wireguard-go), which routes on to an "internet" host. There is no NAT
// anywhere, so the internet host sees true source addresses.
//
//	client eth0 192.0.2.2/24 2001:db8:1::2/64 ── lan0 peer 192.0.2.1 2001:db8:1::1
//	peer wan0 198.51.100.1/24 2001:db8:2::1/64 ── eth0 inet 198.51.100.2 2001:db8:2::2
//	tunnel: peer 203.0.113.1/24 2001:db8:3::1/64, client 203.0.113.2 2001:db8:3::2
type Topology struct {
	Client, Peer, Inet string // namespace names, as `ip netns` knows them

	PeerIface        string      // the peer's WireGuard interface, unique per test
	PeerPublicKey    wgtypes.Key // the peer's public key, for the client's [Peer]
	ClientPrivateKey wgtypes.Key // the key the peer expects the client to use

	PeerEndpoint4 netip.AddrPort // 192.0.2.1:51820
	PeerEndpoint6 netip.AddrPort // [2001:db8:1::1]:51820
	InetAddr4     netip.Addr     // 198.51.100.2
	InetAddr6     netip.Addr     // 2001:db8:2::2
	ClientTunnel4 netip.Addr     // 203.0.113.2
	ClientTunnel6 netip.Addr     // 2001:db8:3::2

	peerProc    *Proc  // the peer's wireguard-go
	peerKeyFile string // its private key, for StartPeer
	// WireguardGo is the peer's wireguard-go binary: Debian's
	// ("wireguard-go" on PATH) unless Options said otherwise.
	WireguardGo string
}

// Options change how New builds a topology. The zero value is New's.
type Options struct {
	// WireguardGo is the peer's wireguard-go binary, e.g. one built from
	// the module the helper embeds; "" is Debian's, found on PATH. Its
	// file name should stay "wireguard-go", which FindProcs matches.
	WireguardGo string
}

// New builds a topology that is torn down when the test ends, also when
// it fails: processes are stopped first, then the namespaces deleted.
// It first removes what killed earlier runs left behind (CleanStale).
func New(tb testing.TB) *Topology {
	tb.Helper()
	return NewWith(tb, Options{})
}

// NewWith is New with options.
func NewWith(tb testing.TB, o Options) *Topology {
	tb.Helper()
	if o.WireguardGo == "" {
		o.WireguardGo = "wireguard-go"
	}
	RequireRoot(tb)
	CleanStale()
	tp := &Topology{
		Client: NewNS(tb), Peer: NewNS(tb), Inet: NewNS(tb),
		PeerIface:     UniqueName("wgp"),
		PeerEndpoint4: netip.MustParseAddrPort("192.0.2.1:51820"),
		PeerEndpoint6: netip.MustParseAddrPort("[2001:db8:1::1]:51820"),
		InetAddr4:     netip.MustParseAddr("198.51.100.2"),
		InetAddr6:     netip.MustParseAddr("2001:db8:2::2"),
		ClientTunnel4: netip.MustParseAddr("203.0.113.2"),
		ClientTunnel6: netip.MustParseAddr("2001:db8:3::2"),
		WireguardGo:   o.WireguardGo,
	}
	// wireguard-go takes a moment to come up; build the underlay meanwhile.
	wg := startWireguardGoBin(tb, tp.Peer, tp.PeerIface, tp.WireguardGo)

	// No duplicate address detection on the veths: while a link-local
	// address is tentative, a router cannot send the neighbour
	// solicitations it needs to forward IPv6, which would stall the first
	// forwarded packet for a second or two. (WireGuard links skip DAD
	// anyway, being NOARP.)
	for _, ns := range []string{tp.Client, tp.Peer, tp.Inet} {
		SetSysctl(tb, ns, "net.ipv6.conf.default.accept_dad", "0")
	}
	// The client's LAN, with the peer as its default gateway. Routes via
	// a gateway need the link up, not its carrier, so the peer's end of
	// the veth may come up later.
	IP(tb, tp.Client,
		"link add eth0 type veth peer name lan0 netns "+tp.Peer,
		"addr add 192.0.2.2/24 dev eth0",
		"addr add 2001:db8:1::2/64 dev eth0 nodad", // nodad: usable at once
		"link set eth0 up",
		"route add default via 192.0.2.1",
		"route add default via 2001:db8:1::1")
	IP(tb, tp.Peer,
		"addr add 192.0.2.1/24 dev lan0",
		"addr add 2001:db8:1::1/64 dev lan0 nodad",
		"link set lan0 up",
		"link add wan0 type veth peer name eth0 netns "+tp.Inet,
		"addr add 198.51.100.1/24 dev wan0",
		"addr add 2001:db8:2::1/64 dev wan0 nodad",
		"link set wan0 up")
	// The internet host routes the client's LAN and tunnel addresses back
	// to the peer; without NAT it answers the true sources.
	IP(tb, tp.Inet,
		"addr add 198.51.100.2/24 dev eth0",
		"addr add 2001:db8:2::2/64 dev eth0 nodad",
		"link set eth0 up",
		"route add 192.0.2.0/24 via 198.51.100.1",
		"route add 203.0.113.0/24 via 198.51.100.1",
		"route add 2001:db8:1::/64 via 2001:db8:2::1",
		"route add 2001:db8:3::/64 via 2001:db8:2::1")
	SetSysctl(tb, tp.Peer, "net.ipv4.ip_forward", "1")
	SetSysctl(tb, tp.Peer, "net.ipv6.conf.all.forwarding", "1")

	tp.configurePeer(tb, wg)
	WaitLinksUp(tb, tp.Client, "eth0")
	WaitLinksUp(tb, tp.Peer, "lan0", "wan0")
	WaitLinksUp(tb, tp.Inet, "eth0")
	return tp
}

// configurePeer makes the peer's wireguard-go a server that accepts the
// client's key for the client's tunnel addresses.
func (tp *Topology) configurePeer(tb testing.TB, wg *Proc) {
	tb.Helper()
	peerKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	if tp.ClientPrivateKey, err = wgtypes.GeneratePrivateKey(); err != nil {
		tb.Fatal(err)
	}
	tp.PeerPublicKey = peerKey.PublicKey()
	// wg(8) reads keys from files only, so that they never show in ps.
	keyFile := filepath.Join(tb.TempDir(), "peer.key")
	if err := os.WriteFile(keyFile, []byte(peerKey.String()+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	tp.peerProc, tp.peerKeyFile = wg, keyFile
	tp.setUpPeer(tb)
}

// setUpPeer configures the peer's running wireguard-go.
func (tp *Topology) setUpPeer(tb testing.TB) {
	tb.Helper()
	waitSocket(tb, tp.peerProc, tp.PeerIface)
	MustRun(tb, tp.Peer, "wg", "set", tp.PeerIface, "private-key", tp.peerKeyFile, "listen-port", "51820",
		"peer", tp.ClientPrivateKey.PublicKey().String(), "allowed-ips", "203.0.113.2/32,2001:db8:3::2/128")
	IP(tb, tp.Peer,
		"addr add 203.0.113.1/24 dev "+tp.PeerIface,
		"addr add 2001:db8:3::1/64 dev "+tp.PeerIface+" nodad",
		"link set "+tp.PeerIface+" up")
}

// StartWireguardGo runs Debian's wireguard-go in the foreground for iface
// in namespace ns and waits until it serves its UAPI socket, so that wg(8)
// can configure it. When the test ends the process is killed and waited
// for, and its socket removed.
func StartWireguardGo(tb testing.TB, ns, iface string) *Proc {
	tb.Helper()
	p := startWireguardGo(tb, ns, iface)
	waitSocket(tb, p, iface)
	return p
}

func startWireguardGo(tb testing.TB, ns, iface string) *Proc {
	tb.Helper()
	return startWireguardGoBin(tb, ns, iface, "wireguard-go")
}

func startWireguardGoBin(tb testing.TB, ns, iface, bin string) *Proc {
	tb.Helper()
	// LOG_LEVEL=error keeps the log short; errors still reach Stderr.
	return StartProc(tb, ns, []string{"LOG_LEVEL=error"}, bin, "-f", iface)
}

// waitSocket waits until wireguard-go p serves iface's UAPI socket. The
// socket appears when the device is ready; there is no event to wait on
// but the file itself, so this polls it, and gives up at once if the
// process exits.
func waitSocket(tb testing.TB, p *Proc, iface string) {
	tb.Helper()
	sock := uapisock.Path(iface)
	WaitFor(tb, 10*time.Second, "wireguard-go's socket "+sock, func() bool {
		select {
		case <-p.Exited():
			tb.Fatalf("wireguard-go for %s exited before making its socket: %s", iface, p.Stderr())
		default:
		}
		_, err := os.Stat(sock)
		return err == nil
	})
}

// WaitFor polls cond until it holds, failing the test after timeout. It is
// for conditions that have no event to wait on, such as a file appearing.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	WaitEvery(tb, timeout, 5*time.Millisecond, what, cond)
}

// WaitEvery is WaitFor checking every interval, for conditions that are
// costly to check, such as running a command.
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

// PeerTransfer returns the bytes the peer received from and sent to the
// client, as `wg show IFACE transfer` reports them.
func (tp *Topology) PeerTransfer(tb testing.TB) (rx, tx uint64) {
	tb.Helper()
	out := MustRun(tb, tp.Peer, "wg", "show", tp.PeerIface, "transfer")
	// One line per peer: public key, received, sent.
	if _, err := fmt.Sscanf(out, "%s %d %d", new(string), &rx, &tx); err != nil {
		tb.Fatalf("wg show %s transfer said %q: %v", tp.PeerIface, out, err)
	}
	return rx, tx
}

// PeerSeesEndpoint returns the client's endpoint as the peer last saw it,
// such as "192.0.2.2:40000", or "(none)" before the first handshake. It
// proves which underlay address the client's WireGuard traffic came from.
func (tp *Topology) PeerSeesEndpoint(tb testing.TB) string {
	tb.Helper()
	out := MustRun(tb, tp.Peer, "wg", "show", tp.PeerIface, "endpoints")
	f := strings.Fields(out)
	if len(f) != 2 {
		tb.Fatalf("wg show %s endpoints said %q", tp.PeerIface, out)
	}
	return f[1]
}
