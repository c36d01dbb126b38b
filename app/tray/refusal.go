package tray

import (
	"errors"
	"slices"

	"github.com/wgtray/wgtray/ipc"
)

// Action is a kind of request that the helper may refuse independently of
// the other: polkit's org.wgtray.connect covers connecting and
// disconnecting, org.wgtray.manage importing.
type Action int

// The actions the tray asks for.
const (
	ActionConnect Action = iota + 1 // connect or disconnect a tunnel
	ActionImport                    // import a config
)

// Refusal is a no from the helper that asking again may turn into a yes:
// after joining group wgtray, typing the administrator's password into
// polkit's dialog, or root allowing script hooks. So a refusal only marks
// what was refused and never disables it: the next attempt is what
// clears it, whatever its outcome.
type Refusal struct {
	Action Action
	// Tunnel is the tunnel whose config was refused (its script hooks),
	// or "" when the action itself was refused (not authorized).
	Tunnel string
	// Scripts is set for ScriptsDisabled, clear for not authorized.
	Scripts bool
	// Why is the helper's message.
	Why string
}

// Attempt records that the user asks for action a again (on tunnel, for
// ActionConnect). The refusals this attempt may overturn are forgotten
// now, not at its success: a refusal of connecting goes with any tunnel's
// attempt, since polkit answers for the action, while a tunnel's script
// hooks go only with that tunnel's. The attempt's own answer, if a
// refusal again, is recorded by Refuse.
func (m *Model) Attempt(a Action, tunnel string) {
	m.Refusals = slices.DeleteFunc(m.Refusals, func(r Refusal) bool {
		return r.Action == a && (r.Tunnel == "" || r.Tunnel == tunnel)
	})
}

// Refuse records err if it is a refusal of action a on tunnel, and
// reports whether it was. A refusal of the action holds for every tunnel;
// ScriptsDisabled holds for tunnel alone.
func (m *Model) Refuse(a Action, tunnel string, err error) bool {
	r := Refusal{Action: a}
	switch {
	case errors.Is(err, ipc.ErrAccessDenied):
	case errors.Is(err, ipc.ErrScriptsDisabled):
		r.Tunnel, r.Scripts = tunnel, true
	default:
		return false
	}
	r.Why = err.Error()
	m.Attempt(a, r.Tunnel) // one record per action and tunnel: the newest
	m.Refusals = append(m.Refusals, r)
	return true
}

// Refused returns the refusal that holds for action a on tunnel: the
// action's own, else the tunnel's.
func (m *Model) Refused(a Action, tunnel string) (Refusal, bool) {
	var found *Refusal
	for i, r := range m.Refusals {
		if r.Action != a {
			continue
		}
		if r.Tunnel == "" {
			return r, true
		}
		if r.Tunnel == tunnel && found == nil {
			found = &m.Refusals[i]
		}
	}
	if found != nil {
		return *found, true
	}
	return Refusal{}, false
}

// refusedAction reports whether action a itself is refused (for every
// tunnel).
func (m *Model) refusedAction(a Action) bool {
	r, ok := m.Refused(a, "")
	return ok && r.Tunnel == ""
}
