package tray_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestTrayActivate calls the item's methods as LXQt's, MATE's and
// Cinnamon's panels do on a left and a middle click: each answers
// without an error and shows the status notification, whose default
// action (a click on it in dunst) connects the tunnel; the next click
// says it is connected. Scroll and ContextMenu answer too, and the
// item keeps its Id and ItemIsMenu.
func TestTrayActivate(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
	if id := it.Prop(t, "Id").Value(); id != tray.ItemID {
		t.Errorf("Id %v, want %q", id, tray.ItemID)
	}
	if v := it.Prop(t, "ItemIsMenu").Value(); v != true {
		t.Error("ItemIsMenu is off: xfce4-panel, Plasma and GNOME would stop opening the menu on a left click")
	}
	obj := d.Conn.Object(it.Service, it.Path)
	for _, m := range []string{"SecondaryActivate", "ContextMenu"} {
		d.closeNotifications(t)
		if err := obj.Call("org.kde.StatusNotifierItem."+m, 0, int32(10), int32(10)).Err; err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		d.waitNotification(t, "wgtray: disconnected")
	}
	if err := obj.Call("org.kde.StatusNotifierItem.Scroll", 0, int32(120), "vertical").Err; err != nil {
		t.Errorf("Scroll: %v", err)
	}

	d.closeNotifications(t)
	if err := obj.Call("org.kde.StatusNotifierItem.Activate", 0, int32(10), int32(10)).Err; err != nil {
		t.Fatalf("Activate: %v", err)
	}
	d.invokeDefault(t, tray.TextRightClick)
	it.waitMenu(t, "the tunnel checked", toggled(w.tunnel, true))
	if st := w.state(t); st != ipc.StateConnected {
		t.Fatalf("helper says %s after the notification's action", st)
	}
	d.waitNotification(t, "Connected to "+w.tunnel)
	d.closeNotifications(t)
	if err := obj.Call("org.kde.StatusNotifierItem.Activate", 0, int32(10), int32(10)).Err; err != nil {
		t.Fatalf("Activate: %v", err)
	}
	d.waitNotification(t, "wgtray: "+w.tunnel+" connected")
}

// closeNotifications moves what dunst shows into its history and
// forgets the history, so that the next wait sees only what comes next.
func (d *testDesktop) closeNotifications(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{{"close-all"}, {"history-clear"}} {
		cmd := d.User.Command(append([]string{"dunstctl"}, args...)...)
		cmd.Env = d.Env()
		cmd.Run() // history-clear is new in dunst 1.10; without it, close-all is enough
	}
}

// invokeDefault waits until dunst shows a notification with text and
// performs its default action, as a click on it would.
func (d *testDesktop) invokeDefault(t *testing.T, text string) {
	t.Helper()
	netns.WaitEvery(t, 20*time.Second, 100*time.Millisecond, "a notification on screen", func() bool {
		cmd := d.User.Command("dunstctl", "count", "displayed")
		cmd.Env = d.Env()
		out, _ := cmd.Output()
		return strings.TrimSpace(string(out)) != "0"
	})
	cmd := d.User.Command("dunstctl", "action", "0")
	cmd.Env = d.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dunstctl action: %v: %s", err, out)
	}
	d.waitNotification(t, text)
}
