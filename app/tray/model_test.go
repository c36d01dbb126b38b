package tray

import (
	"errors"
	"fmt"
	"slices"
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
			[]string{TextNoTunnels, "", TextLockdown, TextImport, TextQuit}},
		{"idle", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}, {Name: "work", State: ipc.StateDisconnected}}},
			IconDisconnected, "wgtray: disconnected", []string{"home", "work", "", TextLockdown, TextImport, TextQuit}},
		{"connecting", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnecting}}},
			IconConnecting, "wgtray: home connecting", []string{"home (connecting…)", "", TextLockdown, TextImport, TextQuit}},
		{"connected", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected, Endpoint: "192.0.2.1:51820",
			Handshake: now.Unix() - 12, Rx: 1258291, Tx: 348160}}},
			IconConnected, "wgtray: home connected",
			[]string{"home", "    endpoint 192.0.2.1:51820", "    handshake 12 s ago", "    ↓ 1.2 MiB ↑ 340 KiB", TextCheck, "", TextLockdown, TextImport, TextQuit}},
		{"connected with DNS and leak guard", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected,
			Handshake: now.Unix() - 12, DNS: "systemd-resolved", Blocked: []string{"IPv6"}}}},
			IconConnected, "wgtray: home connected",
			[]string{"home", "    handshake 12 s ago", "    ↓ 0 B ↑ 0 B", "    DNS through the tunnel (systemd-resolved)",
				"    IPv6 blocked (leak guard)", TextCheck, "", TextLockdown, TextImport, TextQuit}},
		// The handshake's age alone is no problem: an idle tunnel has an old one.
		{"idle, old handshake", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected, Handshake: now.Unix() - 200, Health: ipc.HealthOK}}},
			IconConnected, "wgtray: home connected",
			[]string{"home", "    handshake 3 min ago", "    ↓ 0 B ↑ 0 B", TextCheck, "", TextLockdown, TextImport, TextQuit}},
		{"stalled", Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected, Endpoint: "192.0.2.1:51820", Handshake: now.Unix() - 200,
			Health: ipc.HealthStalled, HealthSince: time.Date(2026, 12, 2, 14, 5, 0, 0, time.Local).Unix()}}},
			IconProblem, "wgtray: home: no reply from 192.0.2.1:51820 since 14:05",
			[]string{"home (no reply from 192.0.2.1:51820 since 14:05)", "    endpoint 192.0.2.1:51820", "    handshake 3 min ago", "    ↓ 0 B ↑ 0 B", TextCheck, "", TextLockdown, TextImport, TextQuit}},
		{"connect refused", Model{HelperUp: true, Refusals: []Refusal{{Action: ActionConnect}}, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}}},
			IconProblem, "wgtray: not allowed to connect tunnels", []string{TextNotAllowedConnect, "home", "", TextLockdown, TextImport, TextQuit}},
		{"import refused", Model{HelperUp: true, Refusals: []Refusal{{Action: ActionImport}}, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}}},
			IconProblem, "wgtray: disconnected", []string{TextNotAllowedImport, "home", "", TextLockdown, TextImport, TextQuit}},
		{"hooks refused", Model{HelperUp: true, Refusals: []Refusal{{Action: ActionConnect, Tunnel: "home", Scripts: true}},
			Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}, {Name: "work", State: ipc.StateDisconnected}}},
			IconProblem, "wgtray: disconnected", []string{"home", TextScriptsTunnel, "work", "", TextLockdown, TextImport, TextQuit}},
		{"waiting", Model{HelperUp: true, Pending: map[string]bool{"home": true}, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}}},
			IconDisconnected, "wgtray: disconnected", []string{"home" + TextWaiting, "", TextLockdown, TextImport, TextQuit}},
		{"failed", Model{HelperUp: true, Failed: "step 3 (configure): boom", Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}}},
			IconProblem, "wgtray: disconnected — step 3 (configure): boom", []string{"home", "Last error: step 3 (configure): boom", "", TextLockdown, TextImport, TextQuit}},
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

	// A refusal and a missing helper are shown, not enforced: the next
	// click is what asks again.
	m.Refusals = []Refusal{{Action: ActionConnect}, {Action: ActionImport}}
	m.HelperUp = false
	for _, e := range m.Menu(now) {
		if (e.Kind == EntryTunnel || e.Kind == EntryImport || e.Kind == EntryRetry) && !e.Enabled {
			t.Errorf("not clickable after a refusal or with the helper gone: %+v", e)
		}
	}

	// Our own call waiting for its answer disables its tunnel alone.
	m = Model{HelperUp: true, Tunnels: []Tunnel{{Name: "a"}, {Name: "b"}}}
	m.SetPending("a", true)
	for _, e := range m.Menu(now) {
		if e.Kind == EntryTunnel && e.Enabled != (e.Tunnel == "b") {
			t.Errorf("with a call about a waiting: %+v", e)
		}
		if e.Kind == EntryImport && !e.Enabled {
			t.Errorf("import disabled while a call waits: %+v", e)
		}
	}
	m.SetPending("a", false)
	if len(m.Pending) != 0 {
		t.Errorf("pending %v after the answer", m.Pending)
	}
}

func TestRefusals(t *testing.T) {
	denied := fmt.Errorf("%w: for org.wgtray.connect", ipc.ErrAccessDenied)
	hooks := fmt.Errorf("%w: the config has hooks", ipc.ErrScriptsDisabled)
	var m Model

	// Only refusals are recorded.
	if m.Refuse(ActionConnect, "a", errors.New("step 3: boom")) || m.Refuse(ActionConnect, "a", ipc.ErrNotFound) || len(m.Refusals) != 0 {
		t.Fatalf("a failure recorded as a refusal: %+v", m.Refusals)
	}

	// Not authorized to connect: every tunnel, and nothing of import.
	if !m.Refuse(ActionConnect, "a", denied) {
		t.Fatal("AccessDenied not taken as a refusal")
	}
	if r, ok := m.Refused(ActionConnect, "b"); !ok || r.Scripts || r.Why != denied.Error() {
		t.Errorf("connect of b after a's refusal: %+v %v", r, ok)
	}
	if _, ok := m.Refused(ActionImport, ""); ok {
		t.Error("a connect refusal refuses import too")
	}
	// Refused twice: one record.
	m.Refuse(ActionConnect, "b", denied)
	if len(m.Refusals) != 1 {
		t.Errorf("refusals %+v, want one", m.Refusals)
	}
	// The next attempt clears it before any answer, whichever tunnel.
	m.Attempt(ActionConnect, "b")
	if _, ok := m.Refused(ActionConnect, "a"); ok {
		t.Errorf("still refused after the next attempt: %+v", m.Refusals)
	}

	// Import refused: connect is not.
	m.Refuse(ActionImport, "", denied)
	if _, ok := m.Refused(ActionConnect, "a"); ok {
		t.Error("an import refusal refuses connect too")
	}
	m.Attempt(ActionConnect, "a")
	if _, ok := m.Refused(ActionImport, ""); !ok {
		t.Error("a connect attempt cleared the import refusal")
	}
	m.Attempt(ActionImport, "")
	if len(m.Refusals) != 0 {
		t.Errorf("refusals %+v after the import attempt", m.Refusals)
	}

	// Script hooks: that tunnel alone, until that tunnel is tried again.
	if !m.Refuse(ActionConnect, "a", hooks) {
		t.Fatal("ScriptsDisabled not taken as a refusal")
	}
	if r, ok := m.Refused(ActionConnect, "a"); !ok || !r.Scripts || r.Tunnel != "a" {
		t.Errorf("a: %+v %v", r, ok)
	}
	if _, ok := m.Refused(ActionConnect, "b"); ok {
		t.Error("a's hooks refuse b")
	}
	m.Attempt(ActionConnect, "b")
	if _, ok := m.Refused(ActionConnect, "a"); !ok {
		t.Error("b's attempt cleared a's hooks refusal")
	}
	m.Attempt(ActionConnect, "a")
	if len(m.Refusals) != 0 {
		t.Errorf("refusals %+v after a's attempt", m.Refusals)
	}
}

func TestSetListKeepsStats(t *testing.T) {
	m := Model{HelperUp: true}
	m.SetList([]ipc.Tunnel{{Name: "b", State: "connected"}, {Name: "a", State: "disconnected"}})
	if m.Tunnels[0].Name != "a" || m.Tunnels[1].Name != "b" {
		t.Fatalf("%+v", m.Tunnels)
	}
	m.Tunnels[1].Rx, m.Tunnels[1].Health = 5, ipc.HealthOK
	m.SetList([]ipc.Tunnel{{Name: "b", State: "connected"}})
	if len(m.Tunnels) != 1 || m.Tunnels[0].Rx != 5 || m.Tunnels[0].Health != ipc.HealthOK {
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

// TestMenuLogin: with the login settings, the menu ends with one
// "Connect at login" line per tunnel and "Start wgtray at login", checked
// as set.
func TestMenuLogin(t *testing.T) {
	m := Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateDisconnected}, {Name: "work", State: ipc.StateDisconnected}},
		Login: &LoginPrefs{Connect: []string{"work"}, Autostart: true}}
	var got []string
	for _, e := range m.Menu(now) {
		if e.Kind == EntryLogin || e.Kind == EntryAutostart {
			got = append(got, fmt.Sprintf("%s %v", e.Title, e.Checked))
		}
	}
	want := []string{"Connect at login: home false", "Connect at login: work true", "Start wgtray at login true"}
	if !slices.Equal(got, want) {
		t.Errorf("login lines %q, want %q", got, want)
	}
}

// TestKillSwitchMenu: a full tunnel has a checkable "Block traffic
// outside the tunnel" line showing its kill switch, a split one has none;
// the Lockdown line shows lockdown; the block with no working tunnel makes
// the icon a problem and the tooltip say "blocked".
func TestKillSwitchMenu(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m := Model{HelperUp: true, Lockdown: true, Tunnels: []Tunnel{
		{Name: "home", State: ipc.StateDisconnected},
		{Name: "work", State: ipc.StateConnected, FullTunnel: true, KillSwitch: true, Blocking: true, Handshake: now.Unix() - 5},
	}}
	m.Blocking = true
	var ks, lockdown []Entry
	for _, e := range m.Menu(now) {
		switch e.Kind {
		case EntryKillSwitch:
			ks = append(ks, e)
		case EntryLockdown:
			lockdown = append(lockdown, e)
		}
	}
	if len(ks) != 1 || ks[0].Tunnel != "work" || !ks[0].Checked || !ks[0].Enabled || ks[0].Title != TextKillSwitch {
		t.Errorf("kill switch lines %+v, want one, checked, for work", ks)
	}
	if len(lockdown) != 1 || !lockdown[0].Checked || !lockdown[0].Enabled {
		t.Errorf("lockdown lines %+v", lockdown)
	}
	if m.BlockedNow(now) || m.Icon(now) != IconConnected {
		t.Errorf("a working tunnel: blocked %v icon %v", m.BlockedNow(now), m.Icon(now))
	}
	m.Tunnels[1].State = ipc.StateDisconnected
	if !m.BlockedNow(now) || m.Icon(now) != IconProblem || !strings.Contains(m.Tooltip(now), "blocked") {
		t.Errorf("blocked with no tunnel: blocked %v icon %v tooltip %q", m.BlockedNow(now), m.Icon(now), m.Tooltip(now))
	}
	m.Blocking = false
	if m.BlockedNow(now) || strings.Contains(m.Tooltip(now), "blocked") {
		t.Error("not blocking, still blocked")
	}
}
