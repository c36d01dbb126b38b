package packaging

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/nspawn"
	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// The suites whose containers TestInstalledUnderSystemd boots: Debian 12
// and Debian 13 (newer systemd and polkit).
var nspawnSuites = []string{"bookworm", "trixie"}

const (
	helperUnit      = "wgtray-helper.service"
	installedHelper = "/usr/libexec/wgtray/wgtray-helper"
	// Users inside the container: a member of group wgtray, a user who
	// is not, and one who connects from a login session (check 9).
	memberUser   = "wgmember"
	outsiderUser = "wgoutsider"
	deskUser     = "wgdesk"
	// The tunnel, imported from /srv/wgtray/demo.conf.
	tunnel = "demo"
	// The peer's namespace inside the container, its WireGuard link, and
	// a name its DNS server answers.
	peerNS    = "wgpeer"
	peerIface = "wgpeer0"
	dnsName   = "wgtray-check.test"
)

var (
	peerTunnel4 = netip.MustParseAddr("203.0.113.1")   // the peer's tunnel address, also its DNS server
	target4     = netip.MustParseAddr("198.51.100.2")  // an address only the peer has: reached only through the tunnel
	dnsAnswer   = netip.MustParseAddr("198.51.100.7")  // what the peer's DNS server answers for dnsName
	clientTun4  = netip.MustParseAddr("203.0.113.2")   // the container's tunnel address
	clientTun6  = netip.MustParseAddr("2001:db8:3::2") // and its IPv6 one
)

// booted is a container booted from a suite's tree, set up for the
// package's checks: a WireGuard peer in a namespace of its own inside it,
// reached over a veth from the container's network (the "client"), with a
// DNS server on the peer's tunnel address.
type booted struct {
	c     *nspawn.Container
	suite string
	tp    netns.Topology // the keys and addresses, for ClientConfig
	peer  wgtypes.Key    // the peer's private key
	conf  string         // the client's config (with its private key)
	clean string         // the container's network before any tunnel
	rows  int            // TestNetworkManagers' rows run so far
}

// bootForChecks boots suite's container, copies the .deb files in and
// builds the peer. Nothing of wgtray is installed yet.
func bootForChecks(t *testing.T, suite string, debs map[string]string) *booted {
	t.Helper()
	img := nspawn.Get(t, suite)
	b := &booted{c: nspawn.Boot(t, img, nspawn.Options{}), suite: suite}
	for inside, host := range debs {
		b.c.CopyIn(t, host, inside, 0o644)
	}
	var err error
	if b.peer, err = wgtypes.GeneratePrivateKey(); err != nil {
		t.Fatal(err)
	}
	client, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	b.tp = netns.Topology{
		PeerPublicKey:    b.peer.PublicKey(),
		ClientPrivateKey: client,
		PeerEndpoint4:    netip.MustParseAddrPort("192.0.2.1:51820"),
	}
	b.conf = b.tp.ClientConfig(netns.ClientOpts{DNS: peerTunnel4.String()})
	b.c.WriteFile(t, "/srv/wgtray/peer.key", []byte(b.peer.String()+"\n"), 0o600)
	// The user imports the file; the helper never reads it.
	b.c.WriteFile(t, "/srv/wgtray/demo.conf", []byte(b.conf), 0o644)

	// The client's LAN, with the peer on it, and an address that only
	// the peer has (target4), on its loopback. The LAN has no default
	// route: target4 is reached through the tunnel or not at all.
	b.c.Shell(t, `
ip netns add `+peerNS+`
ip link add eth0 type veth peer name lan0 netns `+peerNS+`
ip addr add 192.0.2.2/24 dev eth0
ip addr add 2001:db8:1::2/64 dev eth0 nodad
ip link set eth0 up
ip -n `+peerNS+` link set lo up
ip -n `+peerNS+` addr add 192.0.2.1/24 dev lan0
ip -n `+peerNS+` addr add 2001:db8:1::1/64 dev lan0 nodad
ip -n `+peerNS+` addr add `+target4.String()+`/32 dev lo
ip -n `+peerNS+` link set lan0 up
`)
	// Debian's wireguard-go, as a unit in the peer's namespace.
	netnsProp := "NetworkNamespacePath=/run/netns/" + peerNS
	b.c.Start(t, "wgt-peer", []string{netnsProp, "Environment=LOG_LEVEL=error"}, "wireguard-go", "-f", peerIface)
	b.c.WaitFor(t, 20*time.Second, 50*time.Millisecond, "the peer's wireguard-go socket", func() bool {
		_, err := os.Stat(b.c.Path("/run/wireguard/" + peerIface + ".sock"))
		return err == nil
	})
	b.c.Shell(t, fmt.Sprintf(`
ip netns exec %[1]s wg set %[2]s private-key /srv/wgtray/peer.key listen-port 51820 peer %[3]s allowed-ips %[4]s/32,%[5]s/128
ip -n %[1]s addr add %[6]s/24 dev %[2]s
ip -n %[1]s addr add 2001:db8:3::1/64 dev %[2]s nodad
ip -n %[1]s link set %[2]s up
`, peerNS, peerIface, client.PublicKey(), clientTun4, clientTun6, peerTunnel4))
	// dnsmasq on the peer's tunnel address, logging each query with its
	// source to the journal.
	b.c.Start(t, "wgt-dns", []string{netnsProp}, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address="+peerTunnel4.String(), "--port=53",
		"--user=root", "--pid-file=", "--log-queries", "--log-facility=-",
		fmt.Sprintf("--address=/%s/%s", dnsName, dnsAnswer))
	b.clean = b.dump(t)
	return b
}

// dump is netns.Dump of the container's own network, with its tools.
func (b *booted) dump(t *testing.T) string {
	t.Helper()
	return netns.DumpWith(t, b.c.Name, func(script string) (string, error) {
		return b.c.Run(t, nil, "/bin/sh", "-c", script)
	})
}

// checkClean fails the test unless the container's network is as it was
// before any tunnel.
func (b *booted) checkClean(t *testing.T, when string) {
	t.Helper()
	if now := b.dump(t); now != b.clean {
		t.Errorf("%s: the container's network differs from before:\n%s", when, netns.DumpDiff(b.clean, now))
	}
}

// cli runs the installed wgtray as user.
func (b *booted) cli(t *testing.T, user string, args ...string) (string, error) {
	t.Helper()
	return b.c.Run(t, &nspawn.RunOpts{User: user}, append([]string{"/usr/bin/wgtray"}, args...)...)
}

// mustCLI is cli that fails the test when wgtray fails.
func (b *booted) mustCLI(t *testing.T, user string, args ...string) string {
	t.Helper()
	out, err := b.cli(t, user, args...)
	if err != nil {
		t.Fatalf("%v\nhelper's journal:\n%s", err, b.c.Journal(t, "-u", helperUnit))
	}
	return out
}

// helper returns the helper unit's state and main pid.
func (b *booted) helper(t *testing.T) (state string, pid int) {
	t.Helper()
	out := b.c.MustRun(t, "systemctl", "show", "-p", "ActiveState", "-p", "MainPID", helperUnit)
	for _, l := range scanLines(out) {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "ActiveState":
			state = v
		case "MainPID":
			pid, _ = strconv.Atoi(v)
		}
	}
	return state, pid
}

// helperProcs returns the pids of the processes inside running the
// helper's binary (also one that an upgrade deleted).
func (b *booted) helperProcs(t *testing.T) []string {
	t.Helper()
	out, _ := b.c.Run(t, nil, "pgrep", "-f", "^"+installedHelper)
	return scanLines(out)
}

// ping reports whether target4 answers the client within 10 s, through
// the tunnel when it is up (only the peer has it).
func (b *booted) ping(t *testing.T) error { return b.pingWithin(t, 10) }

// pingWithin reports whether target4 answers within secs seconds (ping
// sends one request a second until then).
func (b *booted) pingWithin(t *testing.T, secs int) error {
	t.Helper()
	_, err := b.c.Run(t, nil, "ping", "-n", "-c", "1", "-w", strconv.Itoa(secs), target4.String())
	return err
}

// peerRx returns the bytes the peer received from the client.
func (b *booted) peerRx(t *testing.T) uint64 {
	t.Helper()
	out := b.c.MustRun(t, "ip", "netns", "exec", peerNS, "wg", "show", peerIface, "transfer")
	var rx, tx uint64
	if _, err := fmt.Sscanf(out, "%s %d %d", new(string), &rx, &tx); err != nil {
		t.Fatalf("wg show %s transfer said %q: %v", peerIface, out, err)
	}
	return rx
}

// addUsers makes the container's users, once the package made group
// wgtray.
func (b *booted) addUsers(t *testing.T) {
	t.Helper()
	b.c.Shell(t, fmt.Sprintf("useradd -m -G wgtray %s; useradd -m %s; useradd -m %s", memberUser, outsiderUser, deskUser))
}

// bumped is the .deb rebuilt with a higher version, the same files, for
// the upgrade check; made once per test binary.
var bumped struct {
	once sync.Once
	path string
	err  error
}

// bumpedDeb returns deb repacked with its version plus "+nspawn1", in
// the repository's build/nspawn.
func bumpedDeb(t *testing.T, deb string) string {
	t.Helper()
	bumped.once.Do(func() {
		dir := filepath.Join(repo.Root(t), "build", "nspawn")
		tree := filepath.Join(dir, "tree")
		os.RemoveAll(tree)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			bumped.err = err
			return
		}
		defer os.RemoveAll(tree)
		if out, err := exec.Command("dpkg-deb", "-R", deb, tree).CombinedOutput(); err != nil {
			bumped.err = fmt.Errorf("dpkg-deb -R: %v: %s", err, out)
			return
		}
		control := filepath.Join(tree, "DEBIAN", "control")
		c, err := os.ReadFile(control)
		if err != nil {
			bumped.err = err
			return
		}
		var version string
		var lines []string
		for _, l := range strings.Split(string(c), "\n") {
			if v, ok := strings.CutPrefix(l, "Version: "); ok {
				version = v + "+nspawn1"
				l = "Version: " + version
			}
			lines = append(lines, l)
		}
		if err := os.WriteFile(control, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			bumped.err = err
			return
		}
		bumped.path = filepath.Join(dir, "wgtray_"+version+"_amd64.deb")
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-b", tree, bumped.path).CombinedOutput(); err != nil {
			bumped.err = fmt.Errorf("dpkg-deb -b: %v: %s", err, out)
		}
	})
	if bumped.err != nil {
		t.Fatal(bumped.err)
	}
	return bumped.path
}

// debVersion returns a .deb's version.
func debVersion(t *testing.T, deb string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-f", deb, "Version").Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s Version: %v", deb, err)
	}
	return strings.TrimSpace(string(out))
}
