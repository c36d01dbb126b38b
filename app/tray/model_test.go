package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/ipc"
)

var now = time.Unix(1700000000, 0)

func titles(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Title)
	}
	return out
}

func TestIconTooltipMenu(t *testing.T) {
	cases := []struct {
		name    string
		m       Model
		icon    Icon
		tooltip string
		menu    []string // titles, in order (separator is "")
	}{
		{"no helper", Model{}, IconProblem, "wgtray: wgtray-helper is not running",
			[]string{TextHelperMissing, "", TextImport, TextQuit}},
		{"no tunnels", Model{HelperUp: true}, IconDisconnected, "wgtray: disconnected",
			[]string{TextNoTunnels, "", TextImport, TextQuit}},
		{"idle", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}, {Name: "work", State: ipc.StateDisconnected}}},
			IconDisconnected, "wgtray: disconnected", []string{"home", "work", "", TextImport, TextQuit}},
		{"connecting", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnecting}}},
			IconConnecting, "wgtray: home connecting", []string{"home (connecting…)", "", TextImport, TextQuit}},
		{"connected", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected, Endpoint: "192.0.2.1:51820",
			Handshake: now.Unix() - 12, Rx: 1258291, Tx: 348160}}},
			IconConnected, "wgtray: home connected",
			[]string{"home", "    endpoint 192.0.2.1:51820", "    handshake 12 s ago", "    ↓ 1.2 MiB ↑ 340 KiB", "", TextImport, TextQuit}},
		{"connected with DNS and leak guard", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected,
			Handshake: now.Unix() - 12, DNS: "systemd-resolved", Blocked: []string{"IPv6"}}}},
			IconConnected, "wgtray: home connected",
			[]string{"home", "    handshake 12 s ago", "    ↓ 0 B ↑ 0 B", "    DNS through the tunnel (systemd-resolved)",
				"    IPv6 blocked (leak guard)", "", TextImport, TextQuit}},
		{"lost", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected, Handshake: now.Unix() - 200}}},
			IconProblem, "wgtray: home connection lost",
			[]string{"home (connection lost)", "    handshake 3 min ago", "    ↓ 0 B ↑ 0 B", "", TextImport, TextQuit}},
		{"denied", Model{HelperUp: true, Denied: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}}},
			IconProblem, "wgtray: not allowed to control tunnels", []string{TextNotAllowed, "home", "", TextImport, TextQuit}},
		{"failed", Model{HelperUp: true, Failed: "step 3 (configure): boom", Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}}},
			IconProblem, "wgtray: disconnected — step 3 (configure): boom", []string{"home", "Last error: step 3 (configure): boom", "", TextImport, TextQuit}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.m.Icon(now); got != c.icon {
				t.Errorf("icon %v, want %v", got, c.icon)
			}
			if got := c.m.Tooltip(now); got != c.tooltip {
				t.Errorf("tooltip %q, want %q", got, c.tooltip)
			}
			if got := titles(c.m.Menu(now)); strings.Join(got, "|") != strings.Join(c.menu, "|") {
				t.Errorf("menu\n %q\nwant\n %q", got, c.menu)
			}
		})
	}
}

func TestMenuEnablement(t *testing.T) {
	m := Model{HelperUp: true, Tunnels: []Tunnel{{Name: "a", State: ipc.StateConnected}, {Name: "b", State: ipc.StateDisconnected}}}
	for _, e := range m.Menu(now) {
		switch e.Kind {
		case EntryTunnel:
			if !e.Enabled || e.Checked != (e.Tunnel == "a") {
				t.Errorf("%+v", e)
			}
		case EntryInfo:
			if e.Enabled {
				t.Errorf("info line enabled: %+v", e)
			}
		}
	}
	m.Tunnels[1].State = ipc.StateConnecting
	for _, e := range m.Menu(now) {
		if e.Kind == EntryTunnel && e.Enabled {
			t.Errorf("tunnel clickable while another is connecting: %+v", e)
		}
	}
	m.Tunnels[1].State = ipc.StateDisconnected
	m.Denied = true
	for _, e := range m.Menu(now) {
		if (e.Kind == EntryTunnel || e.Kind == EntryImport) && e.Enabled {
			t.Errorf("clickable while not allowed: %+v", e)
		}
	}
}

func TestSetListKeepsStats(t *testing.T) {
	m := Model{HelperUp: true}
	m.SetList([]ipc.Tunnel{{Name: "b", State: "connected"}, {Name: "a", State: "disconnected"}}, now)
	if m.Tunnels[0].Name != "a" || m.Tunnels[1].Since != now {
		t.Fatalf("%+v", m.Tunnels)
	}
	m.Tunnels[1].Rx = 5
	m.SetList([]ipc.Tunnel{{Name: "b", State: "connected"}}, now.Add(time.Minute))
	if len(m.Tunnels) != 1 || m.Tunnels[0].Rx != 5 || m.Tunnels[0].Since != now {
		t.Errorf("%+v", m.Tunnels)
	}
}

func TestNotices(t *testing.T) {
	cases := []struct {
		ch      ipc.StateChange
		ok      bool
		summary string
		body    string
	}{
		{ipc.StateChange{Name: "home", State: ipc.StateConnecting, Message: "connecting"}, false, "", ""},
		{ipc.StateChange{Name: "home", State: ipc.StateConnected, Message: "connected"}, true, "Connected to home", ""},
		{ipc.StateChange{Name: "home", State: ipc.StateDisconnecting}, false, "", ""},
		{ipc.StateChange{Name: "home", State: ipc.StateDisconnected, Message: "disconnected"}, true, "Disconnected from home", ""},
		{ipc.StateChange{Name: "home", State: ipc.StateDisconnected, Message: "failed: step 2: boom"}, true, "Could not connect home", "step 2: boom"},
		{ipc.StateChange{Name: "home", State: ipc.StateDisconnected, Message: "interface home disappeared"}, true, "Disconnected from home", "interface home disappeared"},
	}
	for _, c := range cases {
		n, ok := NoticeFor(c.ch)
		if ok != c.ok || n.Summary != c.summary || n.Body != c.body || (ok && n.Key != "home") {
			t.Errorf("%+v: %+v %v", c.ch, n, ok)
		}
	}
}

func TestIconsArePNG(t *testing.T) {
	for i := IconDisconnected; i <= IconProblem; i++ {
		if b := i.PNG(); len(b) < 100 || string(b[1:4]) != "PNG" {
			t.Errorf("icon %v is not a PNG", i)
		}
	}
}
