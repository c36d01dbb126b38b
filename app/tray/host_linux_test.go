package tray_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/desktop"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// TestTrayNoHostNotifies: with no StatusNotifierWatcher the tray says in
// a notification what to install on this desktop (GNOME: the extension's
// package; Cinnamon: xapp-sn-watcher); a second launch exits 0 and the
// first says so again, with a Quit button, which quits it. On GNOME the
// icon appears once a host does, and the advice is withdrawn.
func TestTrayNoHostNotifies(t *testing.T) {
	for _, c := range []struct{ desktop, want string }{
		{"GNOME", "gnome-shell-extension-appindicator"},
		{"X-Cinnamon", "install xapp-sn-watcher"},
	} {
		t.Run(c.desktop, func(t *testing.T) {
			w := newWorld(t)
			// dunst's context menu runs dmenu with one line per action:
			// this one picks Quit, as a person would.
			pick := filepath.Join(sysbus.PublicDir(t), "pick-quit")
			if err := os.WriteFile(pick, []byte("#!/bin/sh\ngrep -m1 Quit\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			d := startDesktopWith(t, sysbus.NewUser(t, "wgtray"), desktop.Options{NoPanel: true,
				Dunstrc: "[global]\n    dmenu = " + pick + "\n"})
			env := "XDG_CURRENT_DESKTOP=" + c.desktop
			first := w.startTray(t, d, env)
			d.waitNotification(t, c.want)
			if !strings.Contains(first.said(), c.want) {
				t.Errorf("stderr lacks the advice: %q", first.said())
			}

			d.closeNotifications(t)
			second := d.User.Command(filepath.Join(w.bin, "wgtray"))
			second.Env = d.Env(w.bus.Env(), env)
			out, err := second.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "already running") {
				t.Fatalf("second launch: %v, %q; want exit 0 saying it already runs", err, out)
			}
			if c.desktop == "GNOME" {
				d.waitNotification(t, "wgtray is running, but cannot show its icon")
				d.StartPanel(t)
				it := d.findItem(t)
				it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
				return
			}
			netns.WaitEvery(t, 20*time.Second, 100*time.Millisecond, "the advice on screen", func() bool {
				cmd := d.User.Command("dunstctl", "count", "displayed")
				cmd.Env = d.Env()
				o, _ := cmd.Output()
				return strings.TrimSpace(string(o)) != "0"
			})
			ctxMenu := d.User.Command("dunstctl", "context")
			ctxMenu.Env = d.Env()
			if o, err := ctxMenu.CombinedOutput(); err != nil {
				t.Fatalf("dunstctl context: %v: %s", err, o)
			}
			exited := make(chan error, 1)
			go func() { exited <- first.cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("the tray quit with %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("the notification's Quit did not end the tray; it said %q", first.said())
			}
		})
	}
}

// TestTrayBackAfterPanelRestart: after notifications came and went (their
// NotificationClosed signals once ended systray's registration loop,
// which reads every signal of its connection), a panel that restarts
// shows the item again.
func TestTrayBackAfterPanelRestart(t *testing.T) {
	w := newWorld(t)
	d := startDesktopWith(t, sysbus.NewUser(t, "wgtray"), desktop.Options{NoPanel: true})
	panel := d.StartPanel(t)
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
	obj := d.Conn.Object(it.Service, it.Path)
	if err := obj.Call("org.kde.StatusNotifierItem.Activate", 0, int32(0), int32(0)).Err; err != nil {
		t.Fatal(err)
	}
	d.waitNotification(t, "wgtray: disconnected") // and closes it
	panel.Process.Kill()
	panel.Wait()
	netns.WaitFor(t, 10*time.Second, "the watcher to go", func() bool {
		var has bool
		d.Conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
		return !has
	})
	d.StartPanel(t)
	it = d.findItem(t)
	it.waitMenu(t, "the tunnel after the panel's restart", toggled(w.tunnel, false))
}
