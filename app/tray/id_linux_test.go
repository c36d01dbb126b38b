package tray_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/desktop"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// idWatcher is a StatusNotifierWatcher that reads each item's Id the
// moment the item registers, which is the earliest any panel can: the
// Id once came from a title set after systray had exported the item, and
// about 3 starts in 100 showed systray_PID.
type idWatcher struct {
	conn *dbus.Conn
	ids  chan string
}

func (w *idWatcher) RegisterStatusNotifierItem(sender dbus.Sender, path string) *dbus.Error {
	go func() {
		v, err := w.conn.Object(string(sender), dbus.ObjectPath(path)).GetProperty("org.kde.StatusNotifierItem.Id")
		if err != nil {
			w.ids <- fmt.Sprintf("(Id unreadable: %v)", err)
			return
		}
		w.ids <- fmt.Sprint(v.Value())
	}()
	return nil
}

func (w *idWatcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// TestTrayIDOver100Starts starts the tray 100 times in a real session bus
// with a watcher and checks the Id each time the item registers.
func TestTrayIDOver100Starts(t *testing.T) {
	requireDesktopTools(t)
	bin := sysbus.Binaries(t)
	d := desktop.Start(t, sysbus.NewUser(t, "wgtray"), desktop.Options{NoPanel: true, NoPortal: true})
	w := &idWatcher{conn: d.Conn, ids: make(chan string, 4)}
	if err := d.Conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Conn.RequestName(tray.WatcherName, dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range 100 {
		cmd := d.User.Command(filepath.Join(bin, "wgtray"))
		// No system bus: the tray only shows the helper missing.
		cmd.Env = d.Env("DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-w.ids:
			if id != tray.ItemID {
				bad++
				t.Errorf("start %d: the item registered with Id %q", i, id)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("start %d: no item registered within 20 s", i)
		}
		cmd.Process.Kill()
		cmd.Wait()
		// The next tray must own the name itself, not find this one.
		netns.WaitFor(t, 10*time.Second, "the last tray's bus name to go", func() bool {
			var has bool
			d.Conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, tray.BusName).Store(&has)
			return !has
		})
	}
	t.Logf("%d of 100 starts registered a wrong Id", bad)
}
