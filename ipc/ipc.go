// Package ipc is the D-Bus contract between wgtray's root helper and its
// clients (the tray, the command line, or anyone with busctl): names,
// states, errors, the introspection document, and a typed client.
package ipc

import "github.com/godbus/dbus/v5"

// The helper's names on the system bus.
const (
	BusName    = "org.wgtray.Helper1"
	ObjectPath = dbus.ObjectPath("/org/wgtray/Helper1")
	Interface  = "org.wgtray.Helper1"

	// SignalStateChanged is (s name, s state, s message), sent on every
	// transition whoever caused it.
	SignalStateChanged = "StateChanged"
	// PropertyVersion is the helper's version, read-only.
	PropertyVersion = "Version"
)

// State is a tunnel's state.
type State string

// The states a tunnel moves through.
const (
	StateDisconnected  State = "disconnected"
	StateConnecting    State = "connecting"
	StateConnected     State = "connected"
	StateDisconnecting State = "disconnecting"
)

// Tunnel is one entry of List: a stored tunnel and its state.
type Tunnel struct {
	Name  string
	State string
}
