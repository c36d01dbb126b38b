package tray_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/app/internal/fakehelper"
	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/proc"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// open sends the event by which KDE's panel and GNOME's AppIndicator tell
// an item that its menu opened (xfce4-panel sends none).
func (it *item) open(t *testing.T) {
	t.Helper()
	err := it.MenuObject(t).Call("com.canonical.dbusmenu.Event", 0,
		int32(0), "opened", dbus.MakeVariant(int32(0)), uint32(time.Now().Unix())).Err
	if err != nil {
		t.Fatalf("open the menu: %v", err)
	}
}

// writeService installs the helper's D-Bus activation file in dir with
// the given command line and has the bus read it again. The bus runs it
// as root with its own environment, which names no bus: the command
// itself points the helper at the test's bus, in the client namespace.
func (w *world) writeService(t *testing.T, dir string, argv ...string) {
	t.Helper()
	var quoted []string
	for _, a := range argv {
		quoted = append(quoted, "'"+a+"'")
	}
	text := fmt.Sprintf("[D-BUS Service]\nName=%s\nExec=%s\nUser=root\n", ipc.BusName, strings.Join(quoted, " "))
	if err := os.WriteFile(filepath.Join(dir, ipc.BusName+".service"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.bus.Conn(t).BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err; err != nil {
		t.Fatalf("ReloadConfig: %v", err)
	}
}

// activatedHelper is the command line that starts the real helper by
// activation.
func (w *world) activatedHelper(t *testing.T) []string {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"/usr/bin/env", w.bus.Env(), ip, "netns", "exec", w.tp.Client}, w.helperArgv()...)
}

// stopActivated ends, when the test ends, the helpers the bus started:
// they are no children of the test's, and a helper outlives its bus.
// They are told from any other by the test's own config directory.
func (w *world) stopActivated(t *testing.T) {
	t.Cleanup(func() {
		pids := netns.FindProcs("wgtray-helper", w.configDir)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		netns.WaitFor(t, 20*time.Second, "the activated helpers to stop", func() bool {
			for _, pid := range pids {
				if proc.Alive(pid) {
					return false
				}
			}
			return true
		})
	})
}

// helperPid returns the pid of the helper on the bus.
func (w *world) helperPid(t *testing.T) int {
	t.Helper()
	var pid uint32
	if err := w.bus.Conn(t).BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, ipc.BusName).Store(&pid); err != nil {
		t.Fatalf("the helper's pid: %v", err)
	}
	return int(pid)
}

// killHelper kills the helper the bus started and waits until its name
// is free.
func (w *world) killHelper(t *testing.T) int {
	t.Helper()
	pid := w.helperPid(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	conn := w.bus.Conn(t)
	netns.WaitFor(t, 20*time.Second, "the helper's name to be free", func() bool { return !sysbus.HasOwner(t, conn, ipc.BusName) })
	return pid
}

// TestTrayStartsTheHelperAgain: a helper that failed to start, or went
// away, is tried again (started by D-Bus activation) when the menu opens,
// when the "not running" line is clicked, and by the next click on a
// tunnel, which reaches the new helper and connects.
func TestTrayStartsTheHelperAgain(t *testing.T) {
	services := sysbus.PublicDir(t)
	w := newWorldWith(t, sysbus.Options{ServiceDir: services})
	w.stopActivated(t)
	w.writeService(t, services, "/bin/false") // a helper that fails to start
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	p := w.startTray(t, d)
	it := d.findItem(t)
	netns.WaitFor(t, 20*time.Second, "the tray's attempt to start the helper", func() bool {
		return strings.Contains(p.said(), "list tunnels:")
	})
	it.waitMenu(t, "the helper-missing line", hasLine(tray.TextHelperMissing))

	// Fixed: opening the menu starts it.
	w.writeService(t, services, w.activatedHelper(t)...)
	it.open(t)
	it.waitMenu(t, "the tunnel, once the menu opened", all(toggled(w.tunnel, false), lacksLine(tray.TextHelperMissing)))

	// Killed: the next click on the tunnel starts a new one, which
	// connects it.
	first := w.killHelper(t)
	it.waitMenu(t, "the helper-missing line after the kill", hasLine(tray.TextHelperMissing))
	it.click(t, w.tunnel)
	it.waitMenu(t, "the tunnel checked", all(toggled(w.tunnel, true), lacksLine(tray.TextHelperMissing)))
	if st := w.state(t); st != ipc.StateConnected {
		t.Errorf("helper says %s after the click", st)
	}
	if pid := w.helperPid(t); pid == first {
		t.Errorf("pid %d: the killed helper answers", pid)
	}
	it.click(t, w.tunnel)
	it.waitMenu(t, "the tunnel unchecked", toggled(w.tunnel, false))

	// Killed again: clicking the "not running" line starts it.
	w.killHelper(t)
	it.waitMenu(t, "the helper-missing line after the second kill", hasLine(tray.TextHelperMissing))
	it.click(t, tray.TextHelperMissing)
	it.waitMenu(t, "the tunnel after the retry", all(toggled(w.tunnel, false), lacksLine(tray.TextHelperMissing)))
}

// TestTrayRedialsTheSystemBus: the tray's connection to the system bus
// closes (the bus restarts); the tray says the helper is unavailable,
// connects again by itself, and follows the new helper's signals.
func TestTrayRedialsTheSystemBus(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))

	w.bus.Restart(t)
	it.waitMenu(t, "the helper-missing line", hasLine(tray.TextHelperMissing))
	d.waitNotification(t, "wgtray-helper is unavailable")
	// The old helper is connected to the old bus for good.
	w.helper.Kill()
	w.helper.Wait(t, 20*time.Second)
	w.startHelper(t)
	it.waitMenu(t, "the tunnel on the new bus", all(toggled(w.tunnel, false), lacksLine(tray.TextHelperMissing)))

	// Its signals arrive: root connects from the command line (root needs
	// no polkit, which the restarted bus lacks).
	cli := func(args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(w.bin, "wgtray"), args...)
		cmd.Env = append(os.Environ(), w.bus.Env())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wgtray %v: %v: %s", args, err, out)
		}
	}
	cli("connect", w.tunnel)
	it.waitMenu(t, "the tunnel checked", toggled(w.tunnel, true))
	cli("disconnect", w.tunnel)
	it.waitMenu(t, "the tunnel unchecked", toggled(w.tunnel, false))
}

// TestTrayMenuAnswersWhileACallHangs: a helper that never answers one
// Connect (as while polkit's password dialog is up), nor any Status. The
// tunnel says it waits; the other tunnel connects and disconnects
// meanwhile, its status following the helper's signals; and the hung
// call ends at its deadline, with the error shown.
func TestTrayMenuAnswersWhileACallHangs(t *testing.T) {
	requireDesktopTools(t)
	bin := sysbus.Binaries(t)
	bus := sysbus.Start(t, sysbus.Options{NoPolkit: true})
	f := fakehelper.Start(t, bus.Conn(t),
		ipc.Tunnel{Name: "stuck", State: ipc.StateDisconnected}, ipc.Tunnel{Name: "quick", State: ipc.StateDisconnected})
	f.Hold(ipc.MethodConnect, "stuck")
	f.Hold(ipc.MethodStatus, "") // the statistics of a connected tunnel never come
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	const timeout = 10 * time.Second
	startTrayOn(t, bin, bus, d, fmt.Sprintf("WGTRAY_TIMEOUT=%ds", int(timeout.Seconds())))
	it := d.findItem(t)
	it.waitMenu(t, "both tunnels", all(toggled("stuck", false), toggled("quick", false)))

	start := time.Now()
	it.click(t, "stuck")
	f.WaitHeld(t, ipc.MethodConnect, "stuck", 10*time.Second)
	it.waitMenu(t, "stuck waiting", hasLine("stuck"+tray.TextWaiting))
	it.click(t, "quick")
	it.waitMenu(t, "quick checked", toggled("quick", true))
	f.WaitHeld(t, ipc.MethodStatus, "quick", 10*time.Second)
	it.click(t, "quick")
	it.waitMenu(t, "quick unchecked", all(toggled("quick", false), hasLine("stuck"+tray.TextWaiting)))
	if took := time.Since(start); took >= timeout {
		t.Fatalf("took %v, past the deadline: the menu's answers do not show it answered meanwhile", took)
	}

	it.waitMenu(t, "the deadline's error", all(toggled("stuck", false),
		hasLine("Last error: connect stuck: wgtray-helper did not answer within 10 s")))
	d.waitNotification(t, "Could not connect stuck")
}
