package tray_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestTrayStallAndLogin: with a real helper and peer, the user sets the
// tunnel to connect at login and connects it; the peer's WireGuard
// stops while traffic flows: the tray shows "no reply from …" and dunst
// shows one "stalled" notification; the peer back, "restored". The user
// switches starting at login off (the XDG override with Hidden=true);
// with the tunnel disconnected, a new tray (a new login) connects it by
// itself.
func TestTrayStallAndLogin(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	p := w.startTray(t, d)
	it := d.findItem(t)
	login := tray.TextLogin + w.tunnel
	it.waitMenu(t, "the login line", all(toggled(w.tunnel, false), toggled(login, false), toggled(tray.TextAutostart, true)))
	it.click(t, login)
	it.waitMenu(t, "the login line checked", toggled(login, true))
	saved, err := os.ReadFile(filepath.Join(d.Dir, "home/.config/wgtray/connect-at-login"))
	if err != nil || string(saved) != w.tunnel+"\n" {
		t.Errorf("connect-at-login: %q, %v", saved, err)
	}

	it.click(t, w.tunnel)
	it.waitMenu(t, "the tunnel checked", toggled(w.tunnel, true))
	netns.StartProc(t, w.tp.Client, nil, "ping", "-q", "-i", "0.2", w.tp.InetAddr4.String())
	w.tp.StopPeer(t)
	it.waitMenu(t, "the stall", hasLine("no reply from 192.0.2.1:51820 since "))
	d.waitNotification(t, "Connection to "+w.tunnel+" stalled")
	if tip := it.tooltip(t); !strings.Contains(tip, "no reply from") {
		t.Errorf("tooltip %q does not say the tunnel stalled", tip)
	}
	shot := d.screenshot(t, "tray-stalled")
	w.tp.StartPeer(t)
	d.waitNotification(t, "Connection to "+w.tunnel+" restored")
	it.waitMenu(t, "the stall gone", lacksLine("no reply from"))
	// The summary field of each notification in dunst's history holds
	// exactly this, quoted.
	if n := strings.Count(d.notifications(t), `"Connection to `+w.tunnel+` stalled"`); n != 1 {
		t.Errorf("%d stalled notifications, want 1:\n%s", n, d.notifications(t))
	}

	it.click(t, tray.TextAutostart)
	it.waitMenu(t, "autostart unchecked", toggled(tray.TextAutostart, false))
	entry, err := os.ReadFile(filepath.Join(d.Dir, "home/.config/autostart/wgtray.desktop"))
	if err != nil || !strings.Contains(string(entry), "Hidden=true") {
		t.Errorf("autostart override %q, %v: want Hidden=true", entry, err)
	}

	cli := exec.Command(filepath.Join(w.bin, "wgtray"), "disconnect", w.tunnel)
	cli.Env = append(os.Environ(), w.bus.Env())
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("wgtray disconnect: %v: %s", err, out)
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	w.startTray(t, d)
	netns.WaitEvery(t, 30*time.Second, 100*time.Millisecond, "the new tray to connect the tunnel", func() bool {
		return w.state(t) == ipc.StateConnected
	})
	t.Logf("screenshot: %s", shot)
}
