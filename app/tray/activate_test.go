package tray

import (
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/ipc"
)

func TestStatusNotice(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	app := New(nil, log.New(io.Discard, "", 0), Timeouts{})
	app.now = func() time.Time { return now }
	labels := func(n Notice) string {
		var ls []string
		for _, a := range n.Actions {
			if a.Key != "default" {
				ls = append(ls, a.Label)
			}
		}
		return strings.Join(ls, "|")
	}
	for _, c := range []struct {
		name     string
		model    Model
		lastUsed string
		summary  string
		body     string
		actions  string
	}{
		{"helper down", Model{}, "", "wgtray-helper is not running", "", "Try again"},
		{"no tunnels", Model{HelperUp: true}, "", "wgtray: no tunnels", "", "Import tunnel…"},
		{"first tunnel", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "a"}, {Name: "b"}}}, "", "wgtray: disconnected", "", "Connect a"},
		{"last used", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "a"}, {Name: "b"}}}, "b", "wgtray: disconnected", "", "Connect b"},
		{"last used is gone", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "a"}}}, "b", "wgtray: disconnected", "", "Connect a"},
		{"connected", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "a"}, {Name: "b", State: ipc.StateConnected, Endpoint: "192.0.2.1:51820", Handshake: now.Unix() - 5}}}, "a",
			"wgtray: b connected", "b: connected to 192.0.2.1:51820, handshake 5 s ago", "Disconnect b"},
		{"failed", Model{HelperUp: true, Failed: "boom", Tunnels: []Tunnel{{Name: "a"}}}, "", "wgtray: disconnected", "Last error: boom", "Connect a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			app.model, app.desk.lastUsed = c.model, c.lastUsed
			n := app.statusNotice()
			if n.Summary != c.summary || !strings.Contains(n.Body, c.body) || !strings.HasSuffix(n.Body, TextRightClick) || labels(n) != c.actions {
				t.Errorf("got %q / %q / %q; want %q / …%q… / %q", n.Summary, n.Body, labels(n), c.summary, c.body, c.actions)
			}
		})
	}
}

func TestAdvice(t *testing.T) {
	for desktop, want := range map[string]string{
		"GNOME":           "gnome-shell-extension-appindicator",
		"ubuntu:GNOME":    "gnome-shell-extension-appindicator",
		"X-Cinnamon":      "xapp-sn-watcher",
		"":                "org.kde.StatusNotifierWatcher",
		"LXQt":            "add a system tray",
		"KDE":             "add a system tray",
		"XFCE":            "add a system tray",
		"MATE":            "add a system tray",
		"gnome-flashback": "add a system tray",
	} {
		if got := Advice(desktop); !strings.Contains(got, want) {
			t.Errorf("Advice(%q) = %q, want it to mention %q", desktop, got, want)
		}
	}
	for desktop, want := range map[string]bool{"GNOME": true, "ubuntu:GNOME": true, "KDE": true, "LXQt": false, "MATE": false, "X-Cinnamon": false, "XFCE": false, "": false} {
		if got := wantsSymbolic(desktop); got != want {
			t.Errorf("wantsSymbolic(%q) = %v", desktop, got)
		}
	}
}

// TestEverySymbolicIcon: each look has its -symbolic variant, which the
// item names on GNOME and Plasma; a new look without one would show
// nothing there.
func TestEverySymbolicIcon(t *testing.T) {
	for i := Icon(0); ; i++ {
		name, ok := func() (n string, ok bool) {
			defer func() { ok = recover() == nil }()
			return i.String(), true
		}()
		if !ok {
			if i < 4 {
				t.Fatalf("only %d looks", i)
			}
			return
		}
		if _, err := symbolicIcons.ReadFile("icons/wgtray-" + name + "-symbolic.svg"); err != nil {
			t.Errorf("look %s has no symbolic icon: %v", name, err)
		}
	}
}
