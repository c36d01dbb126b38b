// Package tray is wgtray's tray icon: a StatusNotifierItem with a menu of
// tunnels, live status and desktop notifications, driving the root helper
// through the typed client in package ipc.
package tray

import (
	"fmt"
	"slices"
	"time"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/ipc"
)

// Tunnel is what the tray knows of one tunnel.
type Tunnel struct {
	Name      string
	State     ipc.State
	Endpoint  string
	Handshake int64 // unix seconds; 0 = never
	Rx, Tx    uint64
	DNS       string   // the DNS manager given the tunnel's servers, "" if none
	Blocked   []string // families the leak guard blocks ("IPv6")
	// Health is the helper's judgement of a connected tunnel (the tray
	// makes none of its own): HealthChanged and Status say it.
	Health      ipc.Health
	HealthPeer  string // the stalled peer's public key
	HealthSince int64  // unix seconds: for stalled, when the peer was last heard from
	// FullTunnel, KillSwitch and Blocking are the helper's Status keys:
	// a full tunnel gets the "Block traffic outside the tunnel" line.
	FullTunnel, KillSwitch, Blocking bool
}

// Model is the tray's state. It is plain data: the menu, icon and tooltip
// are computed from it, so they can be tested without a desktop.
type Model struct {
	HelperUp bool      // the helper answers on the system bus
	Refusals []Refusal // what the helper refused, until it is asked again
	// Pending holds the tunnels with a Connect or Disconnect of ours
	// still waiting for the helper's answer (a password dialog, say).
	Pending map[string]bool
	Failed  string // the last action's failure, until the next success
	Tunnels []Tunnel
	// Checking holds the tunnels whose "Check connection…" runs.
	Checking map[string]bool
	// Login, when set, are the user's login settings, shown in the menu
	// under the tunnels.
	Login *LoginPrefs
	// Lockdown and Blocking are the helper's properties: lockdown is on,
	// and the block (a kill switch's or lockdown's) is in place.
	Lockdown, Blocking bool
}

// BlockedNow reports whether the block holds with no working tunnel:
// nothing but the LAN gets out, which the icon and tooltip say.
func (m *Model) BlockedNow(now time.Time) bool {
	if !m.HelperUp || !m.Blocking {
		return false
	}
	for _, t := range m.Tunnels {
		if t.State == ipc.StateConnected && !t.Stalled() {
			return false
		}
	}
	return true
}

// SetPending records whether a call of ours about tunnel is waiting for
// its answer.
func (m *Model) SetPending(tunnel string, waiting bool) {
	if !waiting {
		delete(m.Pending, tunnel)
		return
	}
	if m.Pending == nil {
		m.Pending = map[string]bool{}
	}
	m.Pending[tunnel] = true
}

// Stalled reports whether the helper says t is connected but its peer
// does not answer.
func (t Tunnel) Stalled() bool {
	return t.State == ipc.StateConnected && t.Health == ipc.HealthStalled
}

// NoReply describes a stall: "no reply from 192.0.2.1:51820 since
// 14:05", in local time.
func (t Tunnel) NoReply() string {
	peer := t.Endpoint
	if peer == "" {
		peer = "the peer"
		if len(t.HealthPeer) >= 8 {
			peer = "peer " + t.HealthPeer[:8] + "…"
		}
	}
	s := "no reply from " + peer
	if t.HealthSince != 0 {
		s += " since " + time.Unix(t.HealthSince, 0).Format("15:04")
	}
	return s
}

// Find returns the tunnel called name.
func (m *Model) Find(name string) *Tunnel {
	for i := range m.Tunnels {
		if m.Tunnels[i].Name == name {
			return &m.Tunnels[i]
		}
	}
	return nil
}

// SetList replaces the tunnel list, keeping what is known of tunnels that
// stay.
func (m *Model) SetList(ts []ipc.Tunnel) {
	var out []Tunnel
	for _, t := range ts {
		nt := Tunnel{Name: t.Name, State: t.State}
		if old := m.Find(t.Name); old != nil {
			nt = *old
			nt.State = t.State
		}
		out = append(out, nt)
	}
	slices.SortFunc(out, func(a, b Tunnel) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	m.Tunnels = out
}

// Icon is the icon's look: a problem outranks everything, then any
// connection in progress, then a connected tunnel.
func (m *Model) Icon(now time.Time) Icon {
	if !m.HelperUp || len(m.Refusals) > 0 || m.Failed != "" || m.BlockedNow(now) {
		return IconProblem
	}
	icon := IconDisconnected
	for _, t := range m.Tunnels {
		switch {
		case t.Stalled():
			return IconProblem
		case t.State == ipc.StateConnecting || t.State == ipc.StateDisconnecting:
			icon = IconConnecting
		case t.State == ipc.StateConnected && icon == IconDisconnected:
			icon = IconConnected
		}
	}
	return icon
}

// Tooltip names the tunnels that are not disconnected and their states.
func (m *Model) Tooltip(now time.Time) string {
	switch {
	case !m.HelperUp:
		return "wgtray: wgtray-helper is not running"
	case m.refusedAction(ActionConnect):
		return "wgtray: not allowed to connect tunnels"
	case m.BlockedNow(now):
		s := "wgtray: " + TextBlocked
		for _, t := range m.Tunnels {
			if t.Stalled() {
				s += "; " + t.Name + ": " + t.NoReply()
			}
		}
		return s
	}
	var parts []string
	for _, t := range m.Tunnels {
		switch {
		case t.Stalled():
			parts = append(parts, t.Name+": "+t.NoReply())
		case t.State != ipc.StateDisconnected:
			parts = append(parts, t.Name+" "+string(t.State))
		}
	}
	if len(parts) == 0 {
		s := "wgtray: disconnected"
		if m.Failed != "" {
			s += " — " + m.Failed
		}
		return s
	}
	s := "wgtray: "
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return s
}

// EntryKind is the kind of a menu line.
type EntryKind int

// Menu line kinds.
const (
	EntryTunnel     EntryKind = iota // checkable: click connects or disconnects
	EntryInfo                        // disabled text
	EntryImport                      // "Import tunnel from file…"
	EntryQuit                        // "Quit"
	EntrySeparator                   // a line
	EntryRetry                       // "wgtray-helper is not running": click tries again
	EntryKillSwitch                  // checkable: a full tunnel's kill switch on or off
	EntryLockdown                    // checkable: lockdown on or off
	EntryCheck                       // "Check connection…" under a connected tunnel
	EntryLogin                       // checkable "Connect at login: NAME"
	EntryAutostart                   // checkable "Start wgtray at login"
)

// Entry is one menu line.
type Entry struct {
	Kind    EntryKind
	Title   string
	Tunnel  string // for EntryTunnel
	Checked bool
	Enabled bool
}

// Texts the user reads in the menu.
const (
	TextNotAllowedConnect = "Not allowed to connect tunnels — ask to be added to group wgtray"
	TextNotAllowedImport  = "Not allowed to import tunnels — ask to be added to group wgtray"
	TextScriptsImport     = "Import refused: script hooks are disabled in wgtray-helper"
	TextScriptsTunnel     = "    script hooks are disabled in wgtray-helper"
	TextHelperMissing     = "wgtray-helper is not running — click to try again"
	TextNoTunnels         = "No tunnels — import one"
	TextImport            = "Import tunnel from file…"
	TextQuit              = "Quit"
	TextWaiting           = " (waiting for wgtray-helper…)"
	TextLogin             = "Connect at login: "
	TextAutostart         = "Start wgtray at login"
	TextKillSwitch        = "    Block traffic outside the tunnel"
	TextLockdown          = "Lockdown"
	TextBlocked           = "blocked — traffic outside the tunnel is blocked"
)

// Menu lays the menu out: one checkable line per tunnel, and under a
// connected one its endpoint, handshake age and transfer.
//
// Nothing is disabled for long: a tunnel's line only while it changes
// state or while our own call about it waits for an answer, which has a
// deadline. A missing helper and a refusal are shown, not enforced: the
// next click is what tries again (starting the helper by D-Bus
// activation, or asking polkit again).
func (m *Model) Menu(now time.Time) []Entry {
	var out []Entry
	if !m.HelperUp {
		out = append(out, Entry{Kind: EntryRetry, Title: TextHelperMissing, Enabled: true})
	}
	if m.refusedAction(ActionConnect) {
		out = append(out, Entry{Kind: EntryInfo, Title: TextNotAllowedConnect})
	}
	if r, ok := m.Refused(ActionImport, ""); ok {
		title := TextNotAllowedImport
		if r.Scripts {
			title = TextScriptsImport
		}
		out = append(out, Entry{Kind: EntryInfo, Title: title})
	}
	if m.HelperUp && len(m.Tunnels) == 0 {
		out = append(out, Entry{Kind: EntryInfo, Title: TextNoTunnels})
	}
	busy := false
	for _, t := range m.Tunnels {
		busy = busy || t.State == ipc.StateConnecting || t.State == ipc.StateDisconnecting
	}
	for _, t := range m.Tunnels {
		title := t.Name
		switch t.State {
		case ipc.StateConnecting:
			title += " (connecting…)"
		case ipc.StateDisconnecting:
			title += " (disconnecting…)"
		}
		if t.Stalled() {
			title += " (" + t.NoReply() + ")"
		}
		pending := m.Pending[t.Name]
		if pending {
			title += TextWaiting
		}
		out = append(out, Entry{Kind: EntryTunnel, Title: title, Tunnel: t.Name,
			Checked: t.State == ipc.StateConnected, Enabled: !busy && !pending})
		if r, ok := m.Refused(ActionConnect, t.Name); ok && r.Scripts {
			out = append(out, Entry{Kind: EntryInfo, Title: TextScriptsTunnel})
		}
		if t.FullTunnel {
			out = append(out, Entry{Kind: EntryKillSwitch, Title: TextKillSwitch, Tunnel: t.Name, Checked: t.KillSwitch, Enabled: !pending})
		}
		if t.State == ipc.StateConnected {
			if t.Endpoint != "" {
				out = append(out, Entry{Kind: EntryInfo, Title: "    endpoint " + t.Endpoint})
			}
			hs := "    no handshake yet"
			if t.Handshake != 0 {
				hs = "    handshake " + present.Handshake(t.Handshake, now)
			}
			out = append(out, Entry{Kind: EntryInfo, Title: hs})
			out = append(out, Entry{Kind: EntryInfo, Title: "    " + present.Transfer(t.Rx, t.Tx)})
			if t.DNS != "" {
				out = append(out, Entry{Kind: EntryInfo, Title: "    DNS through the tunnel (" + t.DNS + ")"})
			}
			for _, f := range t.Blocked {
				out = append(out, Entry{Kind: EntryInfo, Title: "    " + f + " blocked (leak guard)"})
			}
			out = append(out, m.checkEntry(t.Name))
		}
	}
	if m.Failed != "" {
		out = append(out, Entry{Kind: EntryInfo, Title: "Last error: " + shorten(m.Failed, 80)})
	}
	if m.BlockedNow(now) {
		out = append(out, Entry{Kind: EntryInfo, Title: "Traffic outside the tunnel is blocked — connect, or disconnect to lift it"})
	}
	out = append(out, Entry{Kind: EntrySeparator})
	if m.HelperUp {
		out = append(out, Entry{Kind: EntryLockdown, Title: TextLockdown, Checked: m.Lockdown, Enabled: true})
	}
	if m.Login != nil {
		for _, t := range m.Tunnels {
			out = append(out, Entry{Kind: EntryLogin, Title: TextLogin + t.Name, Tunnel: t.Name,
				Checked: m.Login.ConnectsAtLogin(t.Name), Enabled: true})
		}
		out = append(out, Entry{Kind: EntryAutostart, Title: TextAutostart, Checked: m.Login.Autostart, Enabled: true})
	}
	out = append(out,
		Entry{Kind: EntryImport, Title: TextImport, Enabled: true},
		Entry{Kind: EntryQuit, Title: TextQuit, Enabled: true},
	)
	return out
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// AnyConnected reports whether a tunnel is up, which is when the tray
// refreshes statistics.
func (m *Model) AnyConnected() bool {
	for _, t := range m.Tunnels {
		if t.State == ipc.StateConnected {
			return true
		}
	}
	return false
}

func (t Tunnel) String() string { return fmt.Sprintf("%s(%s)", t.Name, t.State) }
