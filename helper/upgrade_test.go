package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/proc"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// upgradeTimeout bounds each wait for a helper to notice its replacement,
// exit or start: an inotify event and a process exit, or a start-up.
const upgradeTimeout = 30 * time.Second

// activated is a helper that the bus starts by D-Bus activation, from a
// binary in a directory of the test's, in the client namespace of a
// topology; each run's stderr and exit status go to a log file.
type activated struct {
	*service
	bin string // the file the activation runs
	log string
}

// startActivation puts a helper's activation file on a private system
// bus; no helper runs until the first call.
func startActivation(t *testing.T, bin string) *activated {
	t.Helper()
	dir := filepath.Dir(bin)
	a := &activated{service: &service{tp: netns.New(t)}, bin: bin, log: filepath.Join(dir, "helper.log")}
	a.configDir = filepath.Join(t.TempDir(), "wireguard")
	if err := os.Mkdir(a.configDir, 0o700); err != nil {
		t.Fatal(err)
	}
	a.stateDir = t.TempDir()
	services := t.TempDir()
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	a.bus = sysbus.Start(t, sysbus.Options{ServiceDir: services})
	// sh records how each run ended; env puts it on this bus; ip runs it
	// in the client namespace.
	execLine := fmt.Sprintf(`/bin/sh -c 'exec 2>>"$0"; "$@"; echo "wgtray-helper exited with status $?" >&2' %s /usr/bin/env %s %s netns exec %s %s --config-dir %s --journal-dir %s --lib-dir %s --wireguard=userspace`,
		a.log, a.bus.Env(), ipPath, a.tp.Client, bin, a.configDir, a.stateDir, t.TempDir())
	text := fmt.Sprintf("[D-BUS Service]\nName=%s\nExec=%s\nUser=root\n", ipc.BusName, execLine)
	if err := os.WriteFile(filepath.Join(services, ipc.BusName+".service"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.bus.Conn(t).BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err; err != nil {
		t.Fatalf("ReloadConfig: %v", err)
	}
	// Registered after the bus, so run before it stops: the helpers it
	// started are stopped as root would (SIGTERM takes tunnels down).
	t.Cleanup(func() { a.stopHelpers(t) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("helper log:\n%s", a.logText())
		}
	})
	return a
}

// version asks the helper for its Version, starting it if none runs, and
// returns it with the pid of the process that answered.
func (a *activated) version(t *testing.T) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), upgradeTimeout)
	defer cancel()
	v, err := a.client(t).Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v\nhelper log:\n%s", err, a.logText())
	}
	return v, a.owner(t)
}

// owner returns the pid of the helper that owns the bus name now.
func (a *activated) owner(t *testing.T) int {
	t.Helper()
	var pid uint32
	if err := a.bus.Conn(t).BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, ipc.BusName).Store(&pid); err != nil {
		t.Fatalf("GetConnectionUnixProcessID(%s): %v", ipc.BusName, err)
	}
	return int(pid)
}

func (a *activated) logText() string {
	b, _ := os.ReadFile(a.log)
	return string(b)
}

// waitLog waits until the log holds substr n times.
func (a *activated) waitLog(t *testing.T, substr string, n int) {
	t.Helper()
	netns.WaitFor(t, upgradeTimeout, fmt.Sprintf("%d× %q in the helper log", n, substr), func() bool {
		return strings.Count(a.logText(), substr) >= n
	})
}

// stopHelpers stops every helper still running this test's binaries.
func (a *activated) stopHelpers(t *testing.T) {
	pids := netns.ProcsWhere(func(pid int) bool {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return err == nil && strings.TrimSuffix(exe, " (deleted)") == a.bin
	})
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	netns.WaitFor(t, upgradeTimeout, "the activated helpers to stop", func() bool {
		for _, pid := range pids {
			if proc.Alive(pid) {
				return false
			}
		}
		return true
	})
}

// upgradeBuilds builds two helpers that differ in their Version, the
// "old" installed as bin in a directory of its own, and returns bin and
// the "new" one, to be renamed over it as dpkg and rpm do.
func upgradeBuilds(t *testing.T) (bin, newer string) {
	t.Helper()
	dir := t.TempDir()
	bin, newer = filepath.Join(dir, "wgtray-helper"), filepath.Join(dir, "wgtray-helper.dpkg-new")
	sysbus.BuildHelper(t, bin, "upgrade-old")
	sysbus.BuildHelper(t, newer, "upgrade-new")
	return bin, newer
}

const exited0 = "wgtray-helper exited with status 0"

// TestUpgradeWhileIdle: with no tunnel up, renaming a new build over the
// helper's binary makes the running helper exit 0 and give up its name, and
// the next call starts the new build by D-Bus activation.
func TestUpgradeWhileIdle(t *testing.T) {
	netns.RequireRoot(t)
	bin, newer := upgradeBuilds(t)
	a := startActivation(t, bin)
	v, oldPid := a.version(t)
	if v != "upgrade-old" {
		t.Fatalf("the first call was answered by version %q, want upgrade-old", v)
	}
	if err := os.Rename(newer, bin); err != nil {
		t.Fatal(err)
	}
	a.waitLog(t, exited0, 1)
	if proc.Alive(oldPid) {
		t.Errorf("the old helper (pid %d) still runs after its exit was logged", oldPid)
	}
	if !strings.Contains(a.logText(), "no tunnel is up: exiting") {
		t.Errorf("the old helper did not say why it exited:\n%s", a.logText())
	}
	v, newPid := a.version(t)
	if v != "upgrade-new" || newPid == oldPid {
		t.Errorf("after the upgrade, version %q (pid %d) answered; want upgrade-new in a new process\n%s", v, newPid, a.logText())
	}
}

// TestUpgradeWithTunnelUp: with a tunnel up, the old helper notices the
// new binary but serves on, and its tunnel carries traffic, the same
// link, never taken down, until the user disconnects; then it exits 0 and
// the next call starts the new build.
func TestUpgradeWithTunnelUp(t *testing.T) {
	netns.RequireRoot(t)
	bin, newer := upgradeBuilds(t)
	a := startActivation(t, bin)
	name := netns.UniqueName("wgu")
	a.writeConf(t, name, a.tp.ClientConfig(netns.ClientOpts{}))
	v, oldPid := a.version(t)
	if v != "upgrade-old" {
		t.Fatalf("the first call was answered by version %q, want upgrade-old", v)
	}
	sig := a.watch(t)
	if err := a.client(t).Connect(context.Background(), name); err != nil {
		t.Fatalf("Connect: %v\n%s", err, a.logText())
	}
	link := netns.MustRun(t, a.tp.Client, "ip", "-o", "link", "show", "dev", name)

	if err := os.Rename(newer, bin); err != nil {
		t.Fatal(err)
	}
	a.waitLog(t, "was replaced: exiting after the last tunnel is down", 1)
	if pid := a.owner(t); pid != oldPid {
		t.Fatalf("the name's owner is pid %d, want the old helper %d", pid, oldPid)
	}
	if st, err := a.client(t).Status(context.Background(), name); err != nil || st.State != ipc.StateConnected {
		t.Fatalf("Status after the upgrade: %+v, %v", st, err)
	}
	port := a.tp.InetAddr4.String() + ":7004"
	netns.EchoSource(t, a.tp.Inet, port)
	if src := netns.SourceSeenBy(t, a.tp.Client, port); src != a.tp.ClientTunnel4 {
		t.Errorf("after the upgrade traffic left as %v, want the tunnel's %v", src, a.tp.ClientTunnel4)
	}
	if now := netns.MustRun(t, a.tp.Client, "ip", "-o", "link", "show", "dev", name); linkID(now) != linkID(link) {
		t.Errorf("the tunnel's link changed: %q, was %q", now, link)
	}
	if strings.Contains(a.logText(), "exited") {
		t.Fatalf("the old helper exited with a tunnel up:\n%s", a.logText())
	}

	if err := a.client(t).Disconnect(context.Background(), name); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	a.waitLog(t, exited0, 1)
	sig.waitFor(t, name, ipc.StateDisconnected)
	var states []string
	for _, c := range sig.all() {
		if c.Name == name {
			states = append(states, string(c.State)+": "+c.Message)
		}
	}
	want := []string{"connecting: connecting", "connected: connected", "disconnecting: disconnecting", "disconnected: disconnected"}
	if strings.Join(states, "\n") != strings.Join(want, "\n") {
		t.Errorf("the tunnel's changes:\n%s\nwant exactly:\n%s", strings.Join(states, "\n"), strings.Join(want, "\n"))
	}
	v, newPid := a.version(t)
	if v != "upgrade-new" || newPid == oldPid {
		t.Errorf("after the last disconnect, version %q (pid %d) answered; want upgrade-new in a new process\n%s", v, newPid, a.logText())
	}
}

// linkID is the index and name of a line of `ip -o link show`: a link
// deleted and made again has a new index.
func linkID(line string) string {
	id, _, _ := strings.Cut(line, ":")
	rest := strings.TrimPrefix(line, id+":")
	name, _, _ := strings.Cut(strings.TrimSpace(rest), ":")
	return id + " " + name
}
