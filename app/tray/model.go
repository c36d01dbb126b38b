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

// LostAfter is how long a connected tunnel may go without a handshake
// before the tray calls the connection lost. WireGuard re-handshakes every
// two minutes while traffic flows, so three minutes without one means
// the peer is not answering.
const LostAfter = 180 * time.Second

// Tunnel is what the tray knows of one tunnel.
type Tunnel struct {
	Name      string
	State     ipc.State
	Endpoint  string
	Handshake int64 // unix seconds; 0 = never
	Rx, Tx    uint64
	DNS       string   // the DNS manager given the tunnel's servers, "" if none
	Blocked   []string // families the leak guard blocks ("IPv6")
	// FullTunnel, KillSwitch and Blocking are the helper's Status keys:
	// a full tunnel gets the "Block traffic outside the tunnel" line.
	FullTunnel, KillSwitch, Blocking bool
	Since                            time.Time // when it became connected, for "lost" before the first handshake
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
		if t.State == ipc.StateConnected && !t.Lost(now) {
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

// Lost reports whether t is connected but silent for LostAfter.
func (t Tunnel) Lost(now time.Time) bool {
	if t.State != ipc.StateConnected {
		return false
	}
	last := t.Since
	if t.Handshake != 0 {
		last = time.Unix(t.Handshake, 0)
	}
	return !last.IsZero() && now.Sub(last) > LostAfter
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
func (m *Model) SetList(ts []ipc.Tunnel, now time.Time) {
	var out []Tunnel
	for _, t := range ts {
		nt := Tunnel{Name: t.Name, State: t.State}
		if old := m.Find(t.Name); old != nil {
			nt = *old
			nt.State = t.State
		}
		if nt.State == ipc.StateConnected && nt.Since.IsZero() {
			nt.Since = now
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
		case t.Lost(now):
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
		return "wgtray: " + TextBlocked
	}
	var parts []string
	for _, t := range m.Tunnels {
		switch {
		case t.Lost(now):
			parts = append(parts, t.Name+" connection lost")
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
		if t.Lost(now) {
			title += " (connection lost)"
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
