// Package ipc is the D-Bus contract between wgtray's root helper and its
// clients (the tray, the command line, or anyone with busctl): names,
// states, errors, the status encoding, the introspection document, and a
// typed client. Clients outside this project rely on every name here, so
// none of them may change.
package ipc

import "github.com/godbus/dbus/v5"

// The helper's names on the system bus.
const (
	// BusName is the well-known name the helper owns.
	BusName = "org.wgtray.Helper1"
	// ObjectPath is the helper's only object.
	ObjectPath = dbus.ObjectPath("/org/wgtray/Helper1")
	// Interface is the helper's interface on ObjectPath.
	Interface = "org.wgtray.Helper1"
)

// The members of Interface, without the interface prefix. Every method
// answers ErrorInvalidArgs to a call whose arguments are not of the types
// given here, and ErrorLimitsExceeded to a connection that already has as
// many calls in progress as the helper allows one caller.
const (
	// MethodList is List() → a(ss): every stored tunnel and its state,
	// sorted by name.
	MethodList = "List"
	// MethodStatus is Status(s name) → a{sv}, decoded by StatusFromMap.
	MethodStatus = "Status"
	// MethodConnect is Connect(s name).
	MethodConnect = "Connect"
	// MethodDisconnect is Disconnect(s name).
	MethodDisconnect = "Disconnect"
	// MethodImport is Import(s name, s config).
	MethodImport = "Import"
	// MethodRemove is Remove(s name).
	MethodRemove = "Remove"
	// MethodGetConfig is GetConfig(s name) → s, with the values of
	// PrivateKey and PresharedKey replaced by "(hidden)".
	MethodGetConfig = "GetConfig"

	// MethodSetTunnelOption is SetTunnelOption(s name, s key, s value):
	// one of wgtray's own settings of a tunnel, kept beside its config
	// (kill-switch on|off, allow-lan on|off). An unknown key or a value
	// the key does not take is InvalidArgs, and nothing changes.
	MethodSetTunnelOption = "SetTunnelOption"
	// MethodSetOption is SetOption(s key, s value): a machine-wide
	// setting (lockdown on|off, lockdown-allow-lan on|off), InvalidArgs
	// as SetTunnelOption.
	MethodSetOption = "SetOption"

	// SignalStateChanged is (s name, s state, s message), sent on every
	// transition whoever caused it.
	SignalStateChanged = "StateChanged"
	// SignalBlockRepaired is (s message), sent when the helper put its
	// nftables block back after another program deleted or flushed it.
	SignalBlockRepaired = "BlockRepaired"

	// PropertyVersion is the helper's version: s, read-only, constant for
	// the life of the helper.
	PropertyVersion = "Version"
	// PropertyLockdown is the machine-wide option lockdown: b,
	// read-only (SetOption changes it), PropertiesChanged on change.
	PropertyLockdown = "Lockdown"
	// PropertyBlocking says whether the helper's block (kill switch or
	// lockdown) is in the kernel now: b, read-only, PropertiesChanged on
	// change.
	PropertyBlocking = "Blocking"
)

// State is a tunnel's state as it travels in List, Status and
// StateChanged, an s on the wire. A newer helper may send a state not
// listed here; the client passes it on as it came.
type State string

// The states a tunnel moves through.
const (
	StateDisconnected  State = "disconnected"
	StateConnecting    State = "connecting"
	StateConnected     State = "connected"
	StateDisconnecting State = "disconnecting"
)

// Tunnel is one entry of List: a stored tunnel and its state. It encodes
// as the struct (ss).
type Tunnel struct {
	Name  string
	State State
}
