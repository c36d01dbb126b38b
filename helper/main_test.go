package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// The tests run the real command: this test binary re-executed with
// WGTRAY_HELPER_MAIN=1 runs main's run() with its arguments, inside a
// namespace the test made. Re-executed by sysbus.StartChild, it is a bus
// client running as a test user.
func TestMain(m *testing.M) {
	if os.Getenv("WGTRAY_HELPER_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	sysbus.RunChildIfAsked()
	goleak.VerifyTestMain(m)
}

// helperArgv is the command line of the helper with args, after a
// --lib-dir of the test's: the machine's /var/lib/wgtray is not for
// tests (a later --lib-dir in args wins).
func helperArgv(t testing.TB, args ...string) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{exe, "--lib-dir", t.TempDir()}, args...)
}

var helperEnv = []string{"WGTRAY_HELPER_MAIN=1"}

// runHelper runs wgtray-helper with args in ns and returns its stdout,
// stderr and exit code.
func runHelper(t testing.TB, ns string, args ...string) (string, string, int) {
	t.Helper()
	return runHelperEnv(t, ns, nil, args...)
}

func runHelperEnv(t testing.TB, ns string, env []string, args ...string) (string, string, int) {
	t.Helper()
	argv := helperArgv(t, args...)
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(append(os.Environ(), helperEnv...), env...)
	return runCmd(t, cmd)
}

// runCmd runs cmd and returns its stdout, stderr and exit code; failing
// to start it at all fails the test.
func runCmd(t testing.TB, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"--version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "wgtray-helper ") {
		t.Errorf("--version: code %d, output %q", code, out.String())
	}
	for _, args := range [][]string{{"frobnicate"}, {"up"}, {"--wireguard=bogus", "--cleanup"}, {"--dns=bogus", "--cleanup"}, {"--lib-dir=relative/dir", "--cleanup"}, {"--leak-guard=maybe"}, {"--no-such-flag"}, {"up", "a", "b"}} {
		errOut.Reset()
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("%q: no message on stderr", args)
		}
	}
}

const (
	goodPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	goodPub  = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
)

// badConfigs each break one rule; line is the line the error must name
// (0: the whole input).
var badConfigs = []struct {
	name, text string
	line       int
}{
	{"empty", "", 0},
	{"no-interface", "[Peer]\nPublicKey = " + goodPub + "\n", 1},
	{"unknown-section", "[Interface]\nPrivateKey = " + goodPriv + "\n[Tunnel]\n", 3},
	{"unknown-key", "[Interface]\nPrivateKey = " + goodPriv + "\nColour = blue\n", 3},
	{"key-outside-section", "PrivateKey = " + goodPriv + "\n[Interface]\n", 1},
	{"short-private-key", "[Interface]\nPrivateKey = abc=\n", 2},
	{"bad-public-key", "[Interface]\nPrivateKey = " + goodPriv + "\n[Peer]\nPublicKey = !!!!\n", 4},
	{"bad-address", "[Interface]\nPrivateKey = " + goodPriv + "\nAddress = 203.0.113.300/32\n", 3},
	{"bad-prefix-len", "[Interface]\nPrivateKey = " + goodPriv + "\nAddress = 203.0.113.2/33\n", 3},
	{"bad-port", "[Interface]\nPrivateKey = " + goodPriv + "\nListenPort = 70000\n", 3},
	{"bad-fwmark", "[Interface]\nPrivateKey = " + goodPriv + "\nFwMark = 0xZZ\n", 3},
	{"bad-mtu", "[Interface]\nPrivateKey = " + goodPriv + "\nMTU = lots\n", 3},
	{"bad-table", "[Interface]\nPrivateKey = " + goodPriv + "\nTable = sideways\n", 3},
	{"bad-saveconfig", "[Interface]\nPrivateKey = " + goodPriv + "\nSaveConfig = maybe\n", 3},
	{"peer-without-key", "[Interface]\nPrivateKey = " + goodPriv + "\n\n[Peer]\nAllowedIPs = 0.0.0.0/0\n", 4},
	{"bad-allowed-ips", "[Interface]\nPrivateKey = " + goodPriv + "\n[Peer]\nPublicKey = " + goodPub + "\nAllowedIPs = 0.0.0.0/99\n", 5},
	{"endpoint-no-port", "[Interface]\nPrivateKey = " + goodPriv + "\n[Peer]\nPublicKey = " + goodPub + "\nEndpoint = 192.0.2.1\n", 5},
	{"endpoint-bad-port", "[Interface]\nPrivateKey = " + goodPriv + "\n[Peer]\nPublicKey = " + goodPub + "\nEndpoint = 192.0.2.1:0\n", 5},
	{"bad-keepalive", "[Interface]\nPrivateKey = " + goodPriv + "\n[Peer]\nPublicKey = " + goodPub + "\nPersistentKeepalive = often\n", 5},
	{"duplicate-private-key", "[Interface]\nPrivateKey = " + goodPriv + "\nPrivateKey = " + goodPriv + "\n", 3},
	{"nul-byte", "[Interface]\nPrivateKey = " + goodPriv + "\x00\n", 0},
	{"invalid-utf8", "[Interface]\nPrivateKey = " + goodPriv + "\n# \xff\xfe\n", 0},
	{"too-big", "[Interface]\nPrivateKey = " + goodPriv + "\n" + strings.Repeat("# padding\n", 7000), 0},
	{"pasted-key-line", "[Interface]\nPrivateKey = " + goodPriv + "\n" + goodPub + "\n", 3},
}

// TestBadConfigsChangeNothing feeds each broken config to `up` in a
// namespace: each is rejected naming its line, no key leaks into the
// message, and the namespace is unchanged.
func TestBadConfigsChangeNothing(t *testing.T) {
	netns.RequireRoot(t)
	if len(badConfigs) < 20 {
		t.Fatalf("only %d bad configs; the table must have at least 20", len(badConfigs))
	}
	ns := netns.NewNS(t)
	before := netns.Dump(t, ns)
	dir := t.TempDir()
	for _, c := range badConfigs {
		t.Run(c.name, func(t *testing.T) {
			iface := netns.UniqueName("wgx")
			path := filepath.Join(dir, iface+".conf")
			if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runHelper(t, ns, "--journal-dir", t.TempDir(), "up", path)
			if code == 0 {
				t.Fatalf("accepted; stderr %q", stderr)
			}
			if c.line > 0 && !strings.Contains(stderr, fmt.Sprintf("line %d:", c.line)) {
				t.Errorf("error does not name line %d: %q", c.line, stderr)
			}
			for _, k := range []string{goodPriv, goodPub, goodPriv[:12], goodPub[:12]} {
				if strings.Contains(stderr, k) {
					t.Errorf("error message contains key material: %q", stderr)
				}
			}
			if dump := netns.Dump(t, ns); dump != before {
				t.Errorf("namespace changed:\n%s", netns.DumpDiff(before, dump))
			}
		})
	}
}

// TestUpKillCleanup runs `wgtray-helper up`, kills it with SIGKILL, and
// checks that `wgtray-helper --cleanup` restores the namespace; then that
// SIGTERM takes a tunnel down cleanly.
func TestUpKillCleanup(t *testing.T) {
	netns.RequireRoot(t)
	tp := netns.New(t)
	iface := netns.UniqueName("wgm")
	confDir, state := t.TempDir(), t.TempDir()
	netns.WriteConf(t, confDir, iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0",
	}))
	before := netns.Dump(t, tp.Client)
	args := []string{"--config-dir", confDir, "--journal-dir", state, "--wireguard=userspace", "up", iface}

	p := netns.StartProc(t, tp.Client, helperEnv, helperArgv(t, args...)...)
	p.WaitLine(t, iface+" is up", 20*time.Second)
	p.Signal(syscall.SIGKILL)
	p.Wait(t, 20*time.Second)
	if dump := netns.Dump(t, tp.Client); dump == before {
		t.Fatal("nothing left after SIGKILL; the test proves nothing")
	}
	// --state-dir, the older name of --journal-dir, finds the same journal.
	if _, stderr, code := runHelper(t, tp.Client, "--state-dir", state, "--cleanup"); code != 0 {
		t.Fatalf("--cleanup exit %d: %s", code, stderr)
	}
	if dump := netns.Dump(t, tp.Client); dump != before {
		t.Fatalf("--cleanup did not restore the namespace:\n%s", netns.DumpDiff(before, dump))
	}

	p = netns.StartProc(t, tp.Client, helperEnv, helperArgv(t, args...)...)
	p.WaitLine(t, iface+" is up", 20*time.Second)
	p.Signal(syscall.SIGTERM)
	p.WaitLine(t, iface+" is down", 20*time.Second)
	if stderr, err := p.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v: %s", err, stderr)
	}
	if dump := netns.Dump(t, tp.Client); dump != before {
		t.Errorf("SIGTERM did not restore the namespace:\n%s", netns.DumpDiff(before, dump))
	}
}

// TestScriptsNeedOptIn checks that hooks are refused without
// --allow-scripts and run, in wg-quick's order, with it.
func TestScriptsNeedOptIn(t *testing.T) {
	netns.RequireRoot(t)
	ns := netns.NewNS(t)
	iface := netns.UniqueName("wgs")
	confDir, state := t.TempDir(), t.TempDir()
	logf := filepath.Join(t.TempDir(), "hooks.log")
	conf := fmt.Sprintf("[Interface]\nPrivateKey = %s\nAddress = 203.0.113.2/32\n"+
		"PreUp = echo pre-up %%i >> %[2]s\nPostUp = echo post-up %%i >> %[2]s\n"+
		"PreDown = echo pre-down %%i >> %[2]s\nPostDown = echo post-down %%i >> %[2]s\n", goodPriv, logf)
	netns.WriteConf(t, confDir, iface, conf)
	before := netns.Dump(t, ns)

	_, stderr, code := runHelper(t, ns, "--config-dir", confDir, "--journal-dir", state, "up", iface)
	if code == 0 || !strings.Contains(stderr, "--allow-scripts") {
		t.Errorf("config with hooks: exit %d, stderr %q; want a refusal naming --allow-scripts", code, stderr)
	}
	if _, err := os.Stat(logf); !os.IsNotExist(err) {
		t.Fatal("a hook ran without --allow-scripts")
	}
	if dump := netns.Dump(t, ns); dump != before {
		t.Errorf("refused config changed the namespace:\n%s", netns.DumpDiff(before, dump))
	}

	p := netns.StartProc(t, ns, helperEnv, helperArgv(t, "--config-dir", confDir, "--journal-dir", state, "--allow-scripts", "--wireguard=userspace", "up", iface)...)
	p.WaitLine(t, iface+" is up", 20*time.Second)
	p.Signal(syscall.SIGTERM)
	if stderr, err := p.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("helper: %v: %s", err, stderr)
	}
	got, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pre-up %[1]s\npost-up %[1]s\npre-down %[1]s\npost-down %[1]s\n", iface)
	if string(got) != want {
		t.Errorf("hooks ran as %q, want %q", got, want)
	}
}
