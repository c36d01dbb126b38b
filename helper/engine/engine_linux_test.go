package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
)

const waitUp = 20 * time.Second

// tunnel is a test's view of a child process holding a tunnel up.
type tunnel struct {
	proc *netns.Proc
}

func childEnv(role, conf, state, mode string, extra ...string) []string {
	return append([]string{"WGTRAY_CHILD=" + role, "WGTRAY_CONF=" + conf, "WGTRAY_STATE=" + state, "WGTRAY_WG=" + mode}, extra...)
}

func self(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// up starts a child holding conf up in ns and waits until it is.
func up(t testing.TB, ns, conf, state, mode string, env ...string) *tunnel {
	t.Helper()
	return upArgv(t, ns, childArgv(t), childEnv("hold", conf, state, mode, env...))
}

// upArgv starts argv, which runs a "hold" child (childArgv, wrapped or
// not), in ns and waits until the tunnel is up.
func upArgv(t testing.TB, ns string, argv, env []string) *tunnel {
	t.Helper()
	p := netns.StartProc(t, ns, env, argv...)
	p.WaitLine(t, "up table=", waitUp)
	return &tunnel{proc: p}
}

// childArgv runs the test binary as a child, no test of its own.
func childArgv(t testing.TB) []string { return []string{self(t), "-test.run=^$"} }

// down asks the child to take the tunnel down and waits until it has.
func (tn *tunnel) down(t testing.TB) {
	t.Helper()
	tn.proc.CloseStdin()
	tn.proc.WaitLine(t, "down", waitUp)
	if stderr, err := tn.proc.Wait(t, waitUp); err != nil {
		t.Fatalf("child: %v: %s", err, stderr)
	}
}

// runChild runs a short-lived child role to completion and returns its
// stdout.
func runChild(t testing.TB, ns string, env []string) string {
	t.Helper()
	return runChildIn(t, ns, nil, env)
}

// runChildIn is runChild in a private view of /etc, or the machine's when
// fs is nil.
func runChildIn(t testing.TB, ns string, fs *privatefs.FS, env []string) string {
	t.Helper()
	argv := childArgv(t)
	if fs != nil {
		argv = fs.Argv(argv...)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %v: %v: %s", env, err, stderr.String())
	}
	if testing.Verbose() && stderr.Len() > 0 {
		t.Logf("child stderr:\n%s", stderr.String())
	}
	return string(out)
}

// modes are the WireGuard implementations to test: the embedded one
// always, the kernel's where this kernel has it.
func modes(t *testing.T) []string {
	ns := netns.NewNS(t)
	if _, err := netns.Run(ns, "ip", "link", "add", "wgprobe", "type", "wireguard"); err != nil {
		t.Log("kernel WireGuard unavailable here; testing the embedded wireguard-go only")
		return []string{"userspace"}
	}
	return []string{"userspace", "kernel"}
}

func eachMode(t *testing.T, fn func(t *testing.T, mode string)) {
	for _, m := range modes(t) {
		t.Run(m, func(t *testing.T) { fn(t, m) })
	}
}

func TestFullTunnelTraffic(t *testing.T) {
	netns.RequireRoot(t)
	cases := []struct {
		name, addrs, allowed string
		endpoint6, v4, v6    bool
	}{
		{"v4", "203.0.113.2/32", "0.0.0.0/0", false, true, false},
		{"v6", "2001:db8:3::2/128", "::/0", true, false, true},
		{"dual", "203.0.113.2/32, 2001:db8:3::2/128", "0.0.0.0/0, ::/0", false, true, true},
	}
	eachMode(t, func(t *testing.T, mode string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				tp := netns.New(t)
				port := "7001"
				// 7002 on both families: the leak guard's checks.
				netns.EchoSource(t, tp.Inet, tp.InetAddr4.String()+":7002")
				netns.EchoSource(t, tp.Inet, "["+tp.InetAddr6.String()+"]:7002")
				if c.v4 {
					netns.EchoSource(t, tp.Inet, tp.InetAddr4.String()+":"+port)
				}
				if c.v6 {
					netns.EchoSource(t, tp.Inet, "["+tp.InetAddr6.String()+"]:"+port)
				}
				iface := netns.UniqueName("wgc")
				conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
					Addresses: c.addrs, AllowedIPs: c.allowed, Endpoint6: c.endpoint6,
				}))
				before := netns.Dump(t, tp.Client)
				rx0, _ := tp.PeerTransfer(t)

				tn := up(t, tp.Client, conf, t.TempDir(), mode)
				if c.v4 {
					if src := netns.SourceSeenBy(t, tp.Client, tp.InetAddr4.String()+":"+port); src != tp.ClientTunnel4 {
						t.Errorf("internet host saw source %v, want the tunnel address %v", src, tp.ClientTunnel4)
					}
					route := netns.MustRun(t, tp.Client, "ip", "-4", "route", "get", tp.InetAddr4.String())
					if !strings.Contains(route, "dev "+iface) || !strings.Contains(route, "table 51820") {
						t.Errorf("route lookup does not use the tunnel's table: %s", route)
					}
				}
				if c.v6 {
					if src := netns.SourceSeenBy(t, tp.Client, "["+tp.InetAddr6.String()+"]:"+port); src != tp.ClientTunnel6 {
						t.Errorf("internet host saw source %v, want the tunnel address %v", src, tp.ClientTunnel6)
					}
					route := netns.MustRun(t, tp.Client, "ip", "-6", "route", "get", tp.InetAddr6.String())
					if !strings.Contains(route, "dev "+iface) || !strings.Contains(route, "table 51820") {
						t.Errorf("route lookup does not use the tunnel's table: %s", route)
					}
				}
				// The leak guard: the family the tunnel does not carry fails
				// closed instead of going around the tunnel.
				if !c.v6 {
					if err := dialFails(tp.Client, "["+tp.InetAddr6.String()+"]:7002"); err != nil {
						t.Errorf("IPv6 with an IPv4-only full tunnel: %v", err)
					}
				}
				if !c.v4 {
					if err := dialFails(tp.Client, tp.InetAddr4.String()+":7002"); err != nil {
						t.Errorf("IPv4 with an IPv6-only full tunnel: %v", err)
					}
				}
				if rx1, _ := tp.PeerTransfer(t); rx1 <= rx0 {
					t.Errorf("peer's received bytes did not rise: %d -> %d", rx0, rx1)
				}
				// WireGuard's own UDP must leave on the underlay, not loop
				// into the tunnel: the peer sees the client's underlay address.
				wantEP := "192.0.2.2:"
				if c.endpoint6 {
					wantEP = "[2001:db8:1::2]:"
				}
				if ep := tp.PeerSeesEndpoint(t); !strings.HasPrefix(ep, wantEP) {
					t.Errorf("peer sees the client at %q, want %s…", ep, wantEP)
				}
				tn.down(t)
				if after := netns.Dump(t, tp.Client); after != before {
					t.Errorf("namespace not restored after down:\n%s", netns.DumpDiff(before, after))
				}
				// The blocked family works again once the tunnel is down.
				for _, a := range []netip.Addr{tp.InetAddr4, tp.InetAddr6} {
					if src := netns.SourceSeenBy(t, tp.Client, netip.AddrPortFrom(a, 7002).String()); !src.IsValid() {
						t.Errorf("no connection to %v after down", a)
					}
				}
			})
		}
	})
}

// dialFails checks that a TCP connection to addr fails at once with "no
// route to host" (an unreachable route), not by a timeout.
func dialFails(ns, addr string) error {
	c, err := netns.DialTCP(ns, addr, 5*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("connected to %s: the leak guard let it through", addr)
	}
	if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) {
		return fmt.Errorf("dial %s: %v, want unreachable", addr, err)
	}
	return nil
}

// parityCases are configs brought up by both wg-quick and the engine.
var parityCases = []struct {
	name  string
	opts  netns.ClientOpts
	setup [][]string // commands run in the client namespace first
	peers string     // more [Peer] sections, appended to the config
}{
	{name: "full-v4", opts: netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0"}},
	{name: "full-v6", opts: netns.ClientOpts{Addresses: "2001:db8:3::2/128", AllowedIPs: "::/0", Endpoint6: true}},
	{name: "dual", opts: netns.ClientOpts{Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0"}},
	{name: "split", opts: netns.ClientOpts{Addresses: "203.0.113.2/24, 2001:db8:3::2/64", AllowedIPs: "203.0.113.0/24, 198.51.100.0/24, 198.51.100.7/32, 2001:db8:2::/64, 2001:db8:3::/64"}},
	{name: "table-off", opts: netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0", Table: "off"}},
	{name: "table-1234", opts: netns.ClientOpts{Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0, 198.51.100.0/24", Table: "1234"}},
	{name: "fwmark", opts: netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0", FwMark: "0x1234"}},
	{name: "mtu", opts: netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "198.51.100.0/24", MTU: 1380}},
	{name: "table-taken", opts: netns.ClientOpts{Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0"},
		setup: [][]string{{"ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1", "table", "51820"}}},
	// Two endpoints whose routes have MTUs 1300 (the link's) and 1400 (the
	// route's): wg-quick takes the largest, 1400-80.
	{name: "mtu-two-endpoints", opts: netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "198.51.100.0/24"},
		setup: [][]string{
			{"/bin/sh", "-c", `ip link set dev "$(ip -o route get 192.0.2.1 | sed -n 's/.* dev \([^ ]*\).*/\1/p')" mtu 1300`},
			{"ip", "route", "add", "198.51.100.99/32", "via", "192.0.2.1", "mtu", "1400"},
		},
		peers: "\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nEndpoint = 198.51.100.99:51820\nAllowedIPs = 203.0.113.99/32\n"},
}

// TestParityWithWgQuick brings the same config up with the engine and with
// Debian's wg-quick in the same namespace and compares the namespace dumps.
// Documented differences: the nftables table's name, and that wg-quick
// leaves src_valid_mark set after down where the engine restores it.
func TestParityWithWgQuick(t *testing.T) {
	netns.RequireRoot(t)
	if _, err := exec.LookPath("wg-quick"); err != nil {
		t.Skip("skipping: wg-quick not installed (sudo make test installs wireguard-tools)")
	}
	for _, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			tp := netns.New(t)
			for _, cmd := range c.setup {
				netns.MustRun(t, tp.Client, cmd[0], cmd[1:]...)
			}
			iface := netns.UniqueName("wgq")
			conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(c.opts)+c.peers)
			before := netns.Dump(t, tp.Client)

			// auto: the engine picks the implementation wg-quick picks.
			// wg-quick has no leak guard; TestFullTunnelTraffic tests ours.
			tn := up(t, tp.Client, conf, t.TempDir(), "auto", "WGTRAY_NO_LEAK_GUARD=1")
			ours := netns.Dump(t, tp.Client)
			tn.down(t)
			if after := netns.Dump(t, tp.Client); after != before {
				t.Fatalf("engine did not restore the namespace:\n%s", netns.DumpDiff(before, after))
			}

			netns.WgQuick(t, tp.Client, "up", conf)
			theirs := netns.Dump(t, tp.Client)
			netns.WgQuick(t, tp.Client, "down", conf)

			theirs = strings.ReplaceAll(theirs, "wg-quick-"+iface, "wgtray-"+iface)
			if ours != theirs {
				t.Errorf("state after up differs from wg-quick's (-wg-quick +engine):\n%s", netns.DumpDiff(theirs, ours))
			}
		})
	}
}

// TestRollbackEveryStep makes each Apply of Up fail in turn, before and
// after the change is made, and checks that nothing is left.
func TestRollbackEveryStep(t *testing.T) {
	netns.RequireRoot(t)
	eachMode(t, testRollbackEveryStep)
}

func testRollbackEveryStep(t *testing.T, mode string) {
	tp := netns.New(t)
	iface := netns.UniqueName("wgr")
	conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/24, 2001:db8:3::2/64", AllowedIPs: "0.0.0.0/0, ::/0, 198.51.100.0/24",
	}))
	before := netns.Dump(t, tp.Client)
	for _, after := range []string{"0", "1"} {
		steps := 0
		for k := 0; ; k++ {
			state := t.TempDir()
			out := runChild(t, tp.Client, childEnv("fail", conf, state, mode,
				fmt.Sprintf("WGTRAY_FAIL=%d", k), "WGTRAY_FAIL_AFTER="+after))
			if strings.HasPrefix(out, "completed") {
				break
			}
			if !strings.Contains(out, fmt.Sprintf("failed step=%d rollback=true", k)) {
				t.Fatalf("fail at %d (after=%s): child said %q", k, after, out)
			}
			if dump := netns.Dump(t, tp.Client); dump != before {
				t.Fatalf("fail at step %d (after=%s) left changes:\n%s", k, after, netns.DumpDiff(before, dump))
			}
			if ents, _ := os.ReadDir(state); len(ents) != 0 {
				t.Errorf("fail at step %d left a journal", k)
			}
			steps++
		}
		if steps < 10 {
			t.Errorf("only %d steps were tried (after=%s); the plan should have more", steps, after)
		}
		t.Logf("after=%s: rolled back cleanly from each of %d steps", after, steps)
	}
}

// TestCrashCleanup kills the process holding an embedded tunnel and checks
// that the journal it left lets Cleanup restore the namespace.
func TestCrashCleanup(t *testing.T) {
	netns.RequireRoot(t)
	eachMode(t, testCrashCleanup)
}

func testCrashCleanup(t *testing.T, mode string) {
	tp := netns.New(t)
	iface := netns.UniqueName("wgk")
	conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0",
	}))
	state := t.TempDir()
	before := netns.Dump(t, tp.Client)
	tn := up(t, tp.Client, conf, state, mode)
	tn.proc.Kill()
	tn.proc.Wait(t, waitUp)
	if dump := netns.Dump(t, tp.Client); dump == before {
		t.Fatal("killing the helper removed everything by itself; the test proves nothing")
	}
	if out := runChild(t, tp.Client, childEnv("cleanup", "", state, mode)); !strings.Contains(out, "cleaned") {
		t.Fatalf("cleanup said %q", out)
	}
	if dump := netns.Dump(t, tp.Client); dump != before {
		t.Errorf("cleanup did not restore the namespace:\n%s", netns.DumpDiff(before, dump))
	}
	if _, err := os.Stat("/var/run/wireguard/" + iface + ".sock"); !os.IsNotExist(err) {
		t.Errorf("stale UAPI socket left: %v", err)
	}
	// A second cleanup finds nothing to do.
	runChild(t, tp.Client, childEnv("cleanup", "", state, mode))
}
