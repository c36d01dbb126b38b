package tray_test

import (
	"image"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/desktop"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/repo"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// TestTrayOnDesktops runs the tray in each desktop of desktop.Shells,
// from Debian's packages under its own Xvfb, as an unprivileged user:
// GNOME Shell 43 without and then with the AppIndicator extension,
// Plasma 5.27 without and with kwin_x11, LXQt's and MATE's panels,
// Cinnamon without and then with xapp-sn-watcher. The tray reaches no
// helper (its system bus is missing), so its icon is the red problem
// shield, which is what the screenshots look for.
//
// For each: where there is no host, a notification from the tray
// reaches the desktop's own notification server naming the package to
// install, and the icon shows once the host is added; the item
// registers with Id wgtray; its pixels are in the panel; a real right
// click opens the menu; a real left click opens the menu (GNOME, Plasma)
// or calls Activate, which shows the status notification; Quit from the
// menu ends the tray and the icon leaves the panel. Screenshots go to
// build/screenshots/desktop-NAME-*.png.
func TestTrayOnDesktops(t *testing.T) {
	netns.RequireRoot(t)
	bin := sysbus.Binaries(t)
	shots := filepath.Join(repo.Root(t), "build", "screenshots")
	for _, sh := range desktop.Shells() {
		t.Run(sh.Name, func(t *testing.T) {
			if tool := sh.Missing(); tool != "" {
				t.Skipf("skipping: %s not installed (sudo make test installs %s)", tool, strings.Join(sh.Packages, " "))
			}
			start := time.Now()
			// GNOME and Cinnamon need a system bus; the tray gets none, so
			// that no helper answers it.
			bus := sysbus.Start(t, sysbus.Options{})
			d := desktop.Start(t, sysbus.NewUser(t, "wgtray"), sh.Options(bus.Env()))
			mon := d.Monitor(t)
			sh.Start(t, d)
			notifier := d.Owner(t, "org.freedesktop.Notifications")
			if !sh.Dunst && strings.Contains(notifier, "dunst") {
				t.Fatalf("dunst, not the shell, serves notifications: %s", notifier)
			}
			t.Logf("%s: shell up in %v; notifications by %q", sh.Name, time.Since(start).Round(time.Millisecond), notifier)
			before := d.Shot(t)
			mark := mon.Mark()
			p := &trayProc{cmd: d.User.Command(filepath.Join(bin, "wgtray"))}
			p.cmd.Env = d.Env("DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent")
			p.cmd.Stderr = p
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- p.cmd.Wait() }()
			t.Cleanup(func() {
				p.cmd.Process.Kill()
				<-exited
			})
			if sh.NoHost {
				call := mon.WaitCall(t, mark, 20*time.Second, "the no-host notification", desktop.Member("org.freedesktop.Notifications.Notify", sh.Advice))
				if !strings.Contains(call.Args, "Quit wgtray") {
					t.Errorf("the no-host notification offers no Quit: %s", call.Args)
				}
				netns.WaitEvery(t, 10*time.Second, 100*time.Millisecond, "the notification on screen", func() bool {
					return desktop.Changed(before, d.Shot(t)) > 2000
				})
				desktop.Save(t, d.Shot(t), shots, "desktop-"+sh.Name+"-nohost")
				if has := d.Items(); has != nil {
					t.Fatalf("a watcher appeared by itself (%s), items %q", d.Owner(t, "org.kde.StatusNotifierWatcher"), has)
				}
				mark = mon.Mark()
				second := d.User.Command(filepath.Join(bin, "wgtray"))
				second.Env = p.cmd.Env
				if out, err := second.CombinedOutput(); err != nil || !strings.Contains(string(out), "already running") {
					t.Errorf("second launch: %v, %q", err, out)
				}
				mon.WaitCall(t, mark, 20*time.Second, "the second launch's notification", desktop.Member("org.freedesktop.Notifications.Notify", "wgtray is running, but cannot show its icon"))
				before = d.Shot(t)
				sh.AddHost(t, d)
				t.Logf("%s: host added; registered items: %q", sh.Name, d.Items())
			}
			it := d.FindItemOf(t, p.cmd.Process.Pid)
			if id := it.Prop(t, "Id").Value(); id != tray.ItemID {
				t.Errorf("Id %v, want %q", id, tray.ItemID)
			}
			d.Xdotool(t, "mousemove", "512", "300")
			var box image.Rectangle
			netns.WaitEvery(t, 20*time.Second, 200*time.Millisecond, "the icon's red in the panel", func() bool {
				var n int
				box, n = desktop.PanelBox(d.Shot(t), before, sh.Band, desktop.Red)
				return n >= 4 && box.Dx() <= 48 && box.Dy() <= 48
			})
			at := image.Pt((box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2)
			panel := d.Shot(t)
			desktop.Save(t, panel, shots, "desktop-"+sh.Name+"-panel")
			t.Logf("%s: icon at %v (red box %v)", sh.Name, at, box)

			// Right click: the menu.
			// A panel that has just drawn a new item may not take clicks
			// on it yet (Cinnamon once missed the first, under load): up
			// to three clicks, 10 s each.
			mark = mon.Mark()
			d.ClickAt(t, at, 3)
			for try := 1; try < 3 && !mon.Called(mark, 10*time.Second, desktop.MenuShown); try++ {
				t.Logf("%s: no menu read after right click %d; clicking again", sh.Name, try)
				d.Xdotool(t, "key", "Escape")
				d.ClickAt(t, at, 3)
			}
			mon.WaitCall(t, mark, 10*time.Second, "the host reading the menu after a right click", desktop.MenuShown)
			var menu image.Image
			netns.WaitEvery(t, 10*time.Second, 100*time.Millisecond, "the menu on screen", func() bool {
				menu = d.Shot(t)
				return desktop.Changed(panel, menu) > 2000
			})
			desktop.Save(t, menu, shots, "desktop-"+sh.Name+"-menu")
			t.Logf("%s: menu shown at %v", sh.Name, time.Since(start).Round(time.Millisecond))
			d.Xdotool(t, "key", "Escape")
			// Away from the icon, whose tooltip would show meanwhile.
			d.Xdotool(t, "mousemove", "512", "300")
			netns.WaitEvery(t, 10*time.Second, 100*time.Millisecond, "the menu to close", func() bool {
				return desktop.Changed(panel, d.Shot(t)) < 2000
			})

			// Left click: the menu, or Activate and the status notification.
			panel = d.Shot(t)
			mark = mon.Mark()
			d.ClickAt(t, at, 1)
			if sh.MenuOnLeft {
				mon.WaitCall(t, mark, 10*time.Second, "the menu after a left click", desktop.MenuShown)
			} else {
				mon.WaitCall(t, mark, 10*time.Second, "Activate after a left click", desktop.Member("org.kde.StatusNotifierItem.Activate", ""))
				mon.WaitCall(t, mark, 10*time.Second, "the status notification", desktop.Member("org.freedesktop.Notifications.Notify", tray.TextRightClick))
			}
			var left image.Image
			netns.WaitEvery(t, 10*time.Second, 100*time.Millisecond, "the left click's effect on screen", func() bool {
				left = d.Shot(t)
				return desktop.Changed(panel, left) > 2000
			})
			desktop.Save(t, left, shots, "desktop-"+sh.Name+"-left")
			t.Logf("%s: left click seen at %v", sh.Name, time.Since(start).Round(time.Millisecond))
			d.Xdotool(t, "key", "Escape")
			for _, c := range mon.Since(0) {
				if strings.HasPrefix(c.Member, "org.kde.StatusNotifierItem.") {
					t.Logf("%s: the host called %s%s", sh.Name, c.Member, c.Args)
				}
			}

			// Quit, as the menu's line is clicked.
			for _, e := range it.Menu(t) {
				if e.Label == tray.TextQuit {
					if err := it.MenuObject(t).Call("com.canonical.dbusmenu.Event", 0, e.ID, "clicked", dbus.MakeVariant(int32(0)), uint32(time.Now().Unix())).Err; err != nil {
						t.Fatalf("click Quit: %v", err)
					}
				}
			}
			select {
			case err := <-exited:
				t.Logf("%s: quit at %v", sh.Name, time.Since(start).Round(time.Millisecond))
				exited <- err
				if err != nil {
					t.Errorf("the tray quit with %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Quit did not end the tray")
			}
			netns.WaitEvery(t, 20*time.Second, 200*time.Millisecond, "the icon to leave the panel", func() bool {
				_, n := desktop.PanelBox(d.Shot(t), before, sh.Band, desktop.Red)
				return n == 0 && !slices.ContainsFunc(d.Items(), func(i string) bool {
					return strings.HasPrefix(i, it.Service+"/") || strings.HasPrefix(i, it.Service+"@")
				})
			})
			desktop.Save(t, d.Shot(t), shots, "desktop-"+sh.Name+"-quit")
			t.Logf("%s: done in %v", sh.Name, time.Since(start).Round(time.Millisecond))
		})
	}
}
