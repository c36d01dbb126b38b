package desktop

import (
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// Item is a StatusNotifierItem as the panel sees it.
type Item struct {
	s       *Session
	Service string
	Path    dbus.ObjectPath
}

// items lists the items registered with the panel's watcher.
func (s *Session) items() []string {
	v, err := s.Conn.Object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher").
		GetProperty("org.kde.StatusNotifierWatcher.RegisteredStatusNotifierItems")
	if err != nil {
		return nil
	}
	items, _ := v.Value().([]string)
	return items
}

// FindItem waits for an item to register with the watcher.
func (s *Session) FindItem(tb testing.TB) *Item {
	tb.Helper()
	var it *Item
	netns.WaitFor(tb, 20*time.Second, "a StatusNotifierItem to register", func() bool {
		items := s.items()
		if len(items) == 0 {
			return false
		}
		service, path := splitItem(items[0])
		it = &Item{s: s, Service: service, Path: path}
		return true
	})
	return it
}

// Prop reads one of the item's properties.
func (it *Item) Prop(tb testing.TB, name string) dbus.Variant {
	tb.Helper()
	v, err := it.s.Conn.Object(it.Service, it.Path).GetProperty("org.kde.StatusNotifierItem." + name)
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return v
}

// MenuEntry is one line of the item's dbusmenu layout.
type MenuEntry struct {
	ID      int32
	Label   string
	Enabled bool
	Toggled bool
}

type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// MenuObject is the item's dbusmenu object.
func (it *Item) MenuObject(tb testing.TB) dbus.BusObject {
	tb.Helper()
	var menuPath dbus.ObjectPath
	if err := it.Prop(tb, "Menu").Store(&menuPath); err != nil {
		tb.Fatalf("Menu: %v", err)
	}
	return it.s.Conn.Object(it.Service, menuPath)
}

// Menu reads the menu's top-level lines, as the panel would before
// showing it.
func (it *Item) Menu(tb testing.TB) []MenuEntry {
	tb.Helper()
	obj := it.MenuObject(tb)
	obj.Call("com.canonical.dbusmenu.AboutToShow", 0, int32(0))
	var rev uint32
	var root layout
	if err := obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		tb.Fatalf("GetLayout: %v", err)
	}
	var out []MenuEntry
	for _, c := range root.Children {
		var l layout
		if err := dbus.Store([]any{c.Value()}, &l); err != nil {
			tb.Fatalf("layout child: %v", err)
		}
		e := MenuEntry{ID: l.ID, Enabled: true}
		if v, ok := l.Props["label"]; ok {
			e.Label, _ = v.Value().(string)
		}
		if v, ok := l.Props["enabled"]; ok {
			e.Enabled, _ = v.Value().(bool)
		}
		if v, ok := l.Props["toggle-state"]; ok {
			s, _ := v.Value().(int32)
			e.Toggled = s == 1
		}
		out = append(out, e)
	}
	return out
}

// Items lists the items registered with the watcher (its
// RegisteredStatusNotifierItems), none if there is no watcher.
func (s *Session) Items() []string { return s.items() }

// FindItemOf waits for an item of process pid to register with the
// watcher: a desktop may have items of its own.
func (s *Session) FindItemOf(tb testing.TB, pid int) *Item {
	tb.Helper()
	var it *Item
	netns.WaitFor(tb, 30*time.Second, "the tray's StatusNotifierItem to register", func() bool {
		for _, item := range s.items() {
			service, path := splitItem(item)
			var owner uint32
			if s.Conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, service).Store(&owner) != nil || int(owner) != pid {
				continue
			}
			it = &Item{s: s, Service: service, Path: path}
			return true
		}
		return false
	})
	return it
}

// splitItem parses a registered item: "SERVICE/PATH" (KDE's watcher and
// most), or "SERVICE@/PATH" (GNOME's AppIndicator extension).
func splitItem(item string) (string, dbus.ObjectPath) {
	if service, path, ok := strings.Cut(item, "@/"); ok {
		return service, dbus.ObjectPath("/" + path)
	}
	service, path, _ := strings.Cut(item, "/")
	return service, dbus.ObjectPath("/" + path)
}
