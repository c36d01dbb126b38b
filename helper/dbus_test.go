package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
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

func configNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestDBusContract(t *testing.T) {
	s := startService(t)
	conn := s.bus.Conn(t)
	obj := conn.Object(ipc.BusName, ipc.ObjectPath)
	var xml string
	if err := obj.Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml); err != nil {
		t.Fatal(err)
	}
	if xml != ipc.IntrospectXML {
		t.Errorf("live introspection differs from ipc.IntrospectXML:\n%s", xml)
	}
	v, err := s.client(t).Version(context.Background())
	if err != nil || v == "" {
		t.Errorf("Version = %q, %v", v, err)
	}
	err = obj.Call("org.freedesktop.DBus.Properties.Set", 0, ipc.Interface, "Version", dbus.MakeVariant("x")).Err
	if err == nil {
		t.Error("setting the read-only Version property succeeded")
	}
	if err := obj.Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		t.Errorf("Ping: %v", err)
	}
	// A second helper cannot take the name.
	_, stderr, code := runHelperEnv(t, s.tp.Client, []string{s.bus.Env()}, append(s.args, "--journal-dir", t.TempDir())...)
	if code == 0 || !strings.Contains(stderr, "already taken") {
		t.Errorf("a second helper: exit %d, %q; want a clear refusal", code, stderr)
	}
}

// TestConnectWithCLI is the main job: a member of group wgtray imports a
// config and connects with the command line; traffic goes through the
// tunnel; disconnect restores the namespace.
func TestConnectWithCLI(t *testing.T) {
	s := startService(t)
	member := sysbus.NewUser(t, "wgtray")
	sig := s.watch(t)
	conf := netns.WriteConf(t, sysbus.PublicDir(t), "demo", s.tp.ClientConfig(netns.ClientOpts{}))
	os.Chmod(conf, 0o644) // the user reads it, not the helper
	port := s.tp.InetAddr4.String() + ":7002"
	netns.EchoSource(t, s.tp.Inet, port)
	before := netns.Dump(t, s.tp.Client)
	name := netns.UniqueName("wgd")

	if out, errOut, code := s.cli(t, &member, "import", conf, "--name", name); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	fi, err := os.Stat(s.configDir + "/" + name + ".conf")
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("stored config: %v %v", fi, err)
	}
	if out, _, _ := s.cli(t, &member, "list"); !strings.Contains(out, name) || !strings.Contains(out, "disconnected") {
		t.Errorf("list: %q", out)
	}
	if out, errOut, code := s.cli(t, &member, "connect", name); code != 0 {
		t.Fatalf("connect: %d %s %s\nhelper: %s", code, out, errOut, s.proc.Stderr())
	}
	sig.waitFor(t, name, ipc.StateConnecting)
	sig.waitFor(t, name, ipc.StateConnected)
	if src := netns.SourceSeenBy(t, s.tp.Client, port); src != s.tp.ClientTunnel4 {
		t.Errorf("traffic left with source %v, want the tunnel's %v", src, s.tp.ClientTunnel4)
	}
	out, _, code := s.cli(t, &member, "status", "--json", name)
	if code != 0 || !strings.Contains(out, `"state": "connected"`) || !strings.Contains(out, `"fullTunnel": true`) {
		t.Errorf("status --json: %s", out)
	}
	if out, _, _ := s.cli(t, &member, "show", name); !strings.Contains(out, "PrivateKey = (hidden)") || strings.Contains(out, s.tp.ClientPrivateKey.String()) {
		t.Errorf("show does not hide the key:\n%s", out)
	}
	if _, errOut, code := s.cli(t, &member, "disconnect", name); code != 0 {
		t.Fatalf("disconnect: %s", errOut)
	}
	sig.waitFor(t, name, ipc.StateDisconnected)
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("disconnect did not restore the namespace:\n%s", netns.DumpDiff(before, after))
	}
	if _, errOut, code := s.cli(t, &member, "disconnect", name); code != 0 {
		t.Errorf("disconnecting a disconnected tunnel failed: %s", errOut)
	}
	if _, errOut, code := s.cli(t, &member, "remove", name); code != 0 {
		t.Fatalf("remove: %s", errOut)
	}
	if names := configNames(t, s.configDir); len(names) != 0 {
		t.Errorf("config left after remove: %v", names)
	}
}

// TestAuthorization: root and members of wgtray may change things; anyone
// else may only look, and their attempts change nothing.
func TestAuthorization(t *testing.T) {
	s := startService(t)
	member := sysbus.NewUser(t, "wgtray")
	stranger := sysbus.NewUser(t)
	name := netns.UniqueName("wga")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	conf := netns.WriteConf(t, sysbus.PublicDir(t), "other", s.tp.ClientConfig(netns.ClientOpts{}))
	os.Chmod(conf, 0o644)
	before := netns.Dump(t, s.tp.Client)
	files := configNames(t, s.configDir)

	for _, args := range [][]string{{"list"}, {"status", name}} {
		if _, errOut, code := s.cli(t, &stranger, args...); code != 0 {
			t.Errorf("stranger %v: %s", args, errOut)
		}
	}
	for _, args := range [][]string{{"connect", name}, {"disconnect", name}, {"import", conf, "--name", "other"}, {"remove", name}, {"show", name}} {
		_, errOut, code := s.cli(t, &stranger, args...)
		if code == 0 || !strings.Contains(errOut, "not authorized") {
			t.Errorf("stranger %v: exit %d, %q; want refused as not authorized", args, code, errOut)
		}
		// busctl gets the standard error name.
		member := map[string]string{"connect": "Connect", "disconnect": "Disconnect", "remove": "Remove", "show": "GetConfig"}[args[0]]
		if member != "" {
			out, _ := s.busctl(t, &stranger, "call", ipc.BusName, string(ipc.ObjectPath), ipc.Interface, member, "s", name)
			if !strings.Contains(out, "ccess") && !strings.Contains(out, "not authorized") {
				t.Errorf("busctl %s as stranger: %s", member, out)
			}
		}
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("refused calls changed the namespace:\n%s", netns.DumpDiff(before, after))
	}
	if got := configNames(t, s.configDir); !slices.Equal(got, files) {
		t.Errorf("refused calls changed the configs: %v -> %v", files, got)
	}
	// The member may do all of it, and so may root.
	for _, u := range []*sysbus.User{&member, nil} {
		for _, args := range [][]string{{"connect", name}, {"disconnect", name}, {"show", name}} {
			if _, errOut, code := s.cli(t, u, args...); code != 0 {
				t.Errorf("%v %v: %s", u, args, errOut)
			}
		}
	}
	s.alive(t)
}

// TestBadInputOverDBus: each bad argument gets its named error, no file is
// written, nothing changes, and the helper stays up.
func TestBadInputOverDBus(t *testing.T) {
	s := startService(t)
	c := s.client(t)
	ctx := context.Background()
	good := s.tp.ClientConfig(netns.ClientOpts{})
	s.writeConf(t, "taken", good)
	before := netns.Dump(t, s.tp.Client)
	files := configNames(t, s.configDir)

	for _, name := range []string{"../x", "a/b", "", "0123456789abcdef", ".", "..", "a\x00b", "a\nb"} {
		for _, call := range []func() error{
			func() error { return c.Connect(ctx, name) },
			func() error { return c.Disconnect(ctx, name) },
			func() error { return c.Import(ctx, name, good) },
			func() error { return c.Remove(ctx, name) },
			func() error { _, err := c.GetConfig(ctx, name); return err },
			func() error { _, err := c.Status(ctx, name); return err },
		} {
			err := call()
			// A name with NUL is refused by the bus itself as invalid UTF-8/NUL.
			if !errors.Is(err, ipc.ErrInvalidName) && !(strings.Contains(name, "\x00") && err != nil) {
				t.Errorf("name %q: %v, want InvalidName", name, err)
			}
		}
	}
	badConfigs := map[string]string{
		"empty":    "",
		"65KiB":    strings.Repeat("#", 65*1024),
		"utf8":     "[Interface]\n\xff\n",
		"bad-key":  "[Interface]\nPrivateKey = nope\n",
		"post-up":  good + "\n[Interface]\n",
		"unknown":  "[Interface]\nPrivateKey = " + goodPriv + "\nColour = red\n",
		"peer-key": "[Interface]\nPrivateKey = " + goodPriv + "\n[Peer]\nPublicKey = short\n",
	}
	for what, text := range badConfigs {
		err := c.Import(ctx, "fresh", text)
		if what == "utf8" && err != nil && !errors.Is(err, ipc.ErrInvalidConfig) {
			continue // the bus refuses strings that are not UTF-8 before the helper sees them
		}
		if !errors.Is(err, ipc.ErrInvalidConfig) {
			t.Errorf("config %s: %v, want InvalidConfig", what, err)
		}
		if err != nil && (strings.Contains(err.Error(), goodPriv) || strings.Contains(err.Error(), s.tp.ClientPrivateKey.String())) {
			t.Errorf("config %s: the error contains a key", what)
		}
	}
	if err := c.Import(ctx, "taken", good); !errors.Is(err, ipc.ErrExists) {
		t.Errorf("import over an existing tunnel: %v, want Exists", err)
	}
	hooks := strings.Replace(good, "[Peer]", "PostUp = touch /tmp/wgtray-should-not-exist\n\n[Peer]", 1)
	if err := c.Import(ctx, "hooks", hooks); err != nil {
		t.Fatalf("import with hooks: %v", err)
	}
	if err := c.Connect(ctx, "hooks"); !errors.Is(err, ipc.ErrScriptsDisabled) {
		t.Errorf("connect with hooks: %v, want ScriptsDisabled", err)
	}
	if err := c.Remove(ctx, "hooks"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { return c.Connect(ctx, "nosuch") },
		func() error { return c.Remove(ctx, "nosuch") },
		func() error { _, err := c.GetConfig(ctx, "nosuch"); return err },
		func() error { _, err := c.Status(ctx, "nosuch"); return err },
	} {
		if err := call(); !errors.Is(err, ipc.ErrNotFound) {
			t.Errorf("unknown tunnel: %v, want NotFound", err)
		}
	}
	// Wrong argument types, through busctl.
	for _, args := range [][]string{
		{"Connect", "u", "7"}, {"Import", "s", "x"}, {"Status", "i", "--", "-1"}, {"List", "s", "x"},
	} {
		out, err := s.busctl(t, nil, append([]string{"call", ipc.BusName, string(ipc.ObjectPath), ipc.Interface}, args...)...)
		if err == nil || !strings.Contains(out, "nvalid") {
			t.Errorf("busctl %v: %v %s; want InvalidArgs", args, err, out)
		}
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("bad input changed the namespace:\n%s", netns.DumpDiff(before, after))
	}
	if got := configNames(t, s.configDir); !slices.Equal(got, files) {
		t.Errorf("bad input changed the configs: %v -> %v", files, got)
	}
	if _, err := os.Stat("/tmp/wgtray-should-not-exist"); err == nil {
		t.Error("a hook ran")
	}
	s.alive(t)
}

// TestCrashThenRestart kills the helper with a tunnel up; the next helper
// removes the leftovers at start, then brings the tunnel, which the user
// wanted up, up again. Disconnected before the kill, it stays down.
func TestCrashThenRestart(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgc")
	s.writeConfNoKillSwitch(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	before := netns.Dump(t, s.tp.Client)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	up := netns.Dump(t, s.tp.Client)
	s.proc.Signal(syscall.SIGKILL)
	s.proc.Wait(t, 20*time.Second)
	if netns.Dump(t, s.tp.Client) == before {
		t.Fatal("nothing left after SIGKILL; the test proves nothing")
	}
	s.start(t)
	s.waitRestore(t)
	if !strings.Contains(s.proc.Stderr(), "restore: 1 of 1 tunnels wanted up brought up again") {
		t.Errorf("the tunnel was not restored:\n%s", s.proc.Stderr())
	}
	if st, err := s.client(t).Status(context.Background(), name); err != nil || st.State != ipc.StateConnected {
		t.Errorf("after restart: %+v, %v; want connected again", st, err)
	}
	if after := netns.Dump(t, s.tp.Client); after != up {
		t.Errorf("restart did not bring the tunnel up as it was:\n%s", netns.DumpDiff(up, after))
	}
	if err := s.client(t).Disconnect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	s.proc.Signal(syscall.SIGKILL)
	s.proc.Wait(t, 20*time.Second)
	s.start(t)
	s.waitRestore(t)
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("a tunnel disconnected before the kill came back:\n%s", netns.DumpDiff(before, after))
	}
	if st, err := s.client(t).Status(context.Background(), name); err != nil || st.State != ipc.StateDisconnected {
		t.Errorf("after restart: %+v, %v; want disconnected", st, err)
	}
	// SIGTERM takes every tunnel down and exits 0.
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	s.proc.Signal(syscall.SIGTERM)
	if stderr, err := s.proc.Wait(t, 20*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, stderr)
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("SIGTERM left the tunnel behind:\n%s", netns.DumpDiff(before, after))
	}
}

// TestLinkDisappears deletes the tunnel's interface behind the helper's
// back: it removes the rest and says so.
func TestLinkDisappears(t *testing.T) {
	s := startService(t)
	sig := s.watch(t)
	name := netns.UniqueName("wgl")
	s.writeConfNoKillSwitch(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	before := netns.Dump(t, s.tp.Client)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	netns.MustRun(t, s.tp.Client, "ip", "link", "del", name)
	ch := sig.waitFor(t, name, ipc.StateDisconnected)
	if !strings.Contains(ch.Message, "disappeared") {
		t.Errorf("message %q does not say the interface disappeared", ch.Message)
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("leftovers after the link vanished:\n%s", netns.DumpDiff(before, after))
	}
}

// TestOneFullTunnelAtATime: connecting a second full tunnel disconnects
// the first, and both say so.
func TestOneFullTunnelAtATime(t *testing.T) {
	s := startService(t)
	sig := s.watch(t)
	a, b := netns.UniqueName("wgA"), netns.UniqueName("wgB")
	s.writeConf(t, a, s.tp.ClientConfig(netns.ClientOpts{}))
	s.writeConf(t, b, s.tp.ClientConfig(netns.ClientOpts{}))
	c := s.client(t)
	ctx := context.Background()
	if err := c.Connect(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx, b); err != nil {
		t.Fatal(err)
	}
	ch := sig.waitFor(t, a, ipc.StateDisconnected)
	if !strings.Contains(ch.Message, b) {
		t.Errorf("message %q does not name the tunnel that displaced it", ch.Message)
	}
	if st, _ := c.Status(ctx, b); st.State != ipc.StateConnected {
		t.Errorf("%s is %s", b, st.State)
	}
	if err := c.Disconnect(ctx, b); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentClients: 20 clients connect and disconnect two tunnels for
// 10 s; the end state follows the last request and nothing is left.
func TestConcurrentClients(t *testing.T) {
	s := startService(t)
	names := []string{netns.UniqueName("wg1"), netns.UniqueName("wg2")}
	for i, n := range names {
		// Split tunnels may coexist, so the clients really race on both.
		s.writeConf(t, n, s.tp.ClientConfig(netns.ClientOpts{AllowedIPs: fmt.Sprintf("198.51.100.%d/32", 10+i)}))
	}
	before := netns.Dump(t, s.tp.Client)
	// Warm up: the first tunnel opens the helper's long-lived sockets
	// (wgctrl, nftables), which are not leaks.
	warm := s.client(t)
	for _, n := range names {
		if err := warm.Connect(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		if err := warm.Disconnect(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	pid := s.proc.Cmd.Process.Pid
	fds0 := countFDs(t, pid)
	g0 := s.goroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			c := s.client(t)
			for n := 0; ctx.Err() == nil; n++ {
				name := names[(i+n)%2]
				// Each call is waited for, even past the 10 s: one a
				// client gave up on would still run in the helper, which
				// changes different tunnels at once, and could land after
				// the final Connect below.
				callCtx, cancelCall := context.WithTimeout(context.Background(), time.Minute)
				var err error
				if (i+n)%3 == 0 {
					err = c.Disconnect(callCtx, name)
				} else {
					err = c.Connect(callCtx, name)
				}
				cancelCall()
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	c := s.client(t)
	for _, n := range names {
		if err := c.Connect(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Status(context.Background(), n); st.State != ipc.StateConnected {
			t.Errorf("%s after a final Connect: %s", n, st.State)
		}
		if err := c.Disconnect(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("left over after the final disconnects:\n%s", netns.DumpDiff(before, after))
	}
	s.alive(t)
	// More is a leak; fewer is not: right after the warm-up's last
	// Disconnect a closing device or the health watch may still hold a
	// descriptor for a moment (seen: 21, then 19).
	if fds := countFDs(t, pid); fds > fds0 {
		out, _ := exec.Command("sh", "-c", fmt.Sprintf("ls -l /proc/%[1]d/fd; for f in netlink udp udp6 unix tcp tcp6 raw; do echo == $f; cat /proc/%[1]d/net/$f; done", pid)).CombinedOutput()
		t.Errorf("helper's file descriptors went from %d to %d:\n%s", fds0, fds, out)
	}
	if g := s.goroutines(t); g > g0 {
		t.Errorf("helper's goroutines grew from %d to %d", g0, g)
	}
}

// goroutines asks the helper for its goroutine count (SIGUSR1).
func (s *service) goroutines(t *testing.T) int {
	t.Helper()
	from := len(s.proc.Lines())
	s.proc.Signal(syscall.SIGUSR1)
	line := s.proc.WaitLineFrom(t, from, "debug: goroutines=", 10*time.Second)
	var n int
	if _, err := fmt.Sscanf(line, "debug: goroutines=%d", &n); err != nil {
		t.Fatalf("helper said %q: %v", line, err)
	}
	return n
}

func countFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestSecretsNeverLeak collects every reply, signal, error and log line
// of a full run and looks for the private and preshared keys.
func TestSecretsNeverLeak(t *testing.T) {
	s := startService(t)
	sig := s.watch(t)
	c := s.client(t)
	ctx := context.Background()
	name := netns.UniqueName("wgs")
	psk := "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
	text := strings.Replace(s.tp.ClientConfig(netns.ClientOpts{}), "PersistentKeepalive", "PresharedKey = "+psk+"\nPersistentKeepalive", 1)
	var seen []string
	record := func(v any, err error) {
		seen = append(seen, fmt.Sprint(v))
		if err != nil {
			seen = append(seen, err.Error())
		}
	}
	record(nil, c.Import(ctx, name, text))
	record(nil, c.Import(ctx, name, text))
	record(nil, c.Import(ctx, "broken", strings.Replace(text, "[Peer]", "Bogus = "+psk, 1)))
	record(nil, c.Import(ctx, "broken2", strings.Replace(text, "PrivateKey =", "PrivateKey = x", 1)))
	record(nil, c.Connect(ctx, name))
	record(c.Status(ctx, name))
	record(c.List(ctx))
	record(c.GetConfig(ctx, name))
	record(nil, c.Disconnect(ctx, name))
	record(nil, c.Remove(ctx, name))
	for _, ch := range sig.all() {
		seen = append(seen, fmt.Sprint(ch))
	}
	s.proc.Signal(syscall.SIGTERM)
	stderr, _ := s.proc.Wait(t, 20*time.Second)
	seen = append(seen, stderr, strings.Join(s.proc.Lines(), "\n"))
	all := strings.Join(seen, "\n")
	for _, secret := range []string{s.tp.ClientPrivateKey.String(), psk} {
		for i := 0; i+10 <= len(secret); i += 4 {
			if strings.Contains(all, secret[i:i+10]) {
				t.Fatalf("a secret key appears in replies, signals or logs")
			}
		}
	}
	if !strings.Contains(all, "connected") || !strings.Contains(all, "(hidden)") {
		t.Errorf("the run recorded too little to prove anything:\n%s", all)
	}
}

// TestStatusDNSAndLeakGuard: a connected IPv4-only full tunnel with DNS
// reports its servers and search domain, who was given them, and that
// IPv6 is blocked; the helper writes resolv.conf in a private /etc here.
func TestStatusDNSAndLeakGuard(t *testing.T) {
	fs := privatefs.New(t)
	if err := os.WriteFile(fs.Path("resolv.conf"), []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServiceIn(t, fs, "--dns=resolv.conf")
	name := netns.UniqueName("wgS")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0", DNS: "203.0.113.1, corp.example"}))
	c := s.client(t)
	ctx := context.Background()
	st, err := c.Status(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.DNS, []string{"203.0.113.1", "corp.example"}) || st.DNSManager != "" || len(st.LeakGuard) != 0 {
		t.Errorf("disconnected: DNS %q, DNSManager %q, LeakGuard %q", st.DNS, st.DNSManager, st.LeakGuard)
	}
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Status(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st.DNSManager != "resolv.conf" || !slices.Equal(st.LeakGuard, []string{"IPv6"}) {
		t.Errorf("connected: DNSManager %q, LeakGuard %q", st.DNSManager, st.LeakGuard)
	}
	if b, _ := os.ReadFile(fs.Path("resolv.conf")); !strings.Contains(string(b), "nameserver 203.0.113.1") {
		t.Errorf("resolv.conf while connected: %q", b)
	}
	out, _, code := s.cli(t, nil, "status", name)
	if code != 0 || !strings.Contains(out, "resolv.conf") || !strings.Contains(out, "ipv6:") {
		t.Errorf("wgtray status (exit %d):\n%s", code, out)
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fs.Path("resolv.conf")); string(b) != "nameserver 192.0.2.53\n" {
		t.Errorf("resolv.conf after disconnect: %q", b)
	}
}
