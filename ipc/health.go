package ipc

// SignalHealthChanged is (s name, s health, s peer, x since, s reason),
// sent on every change of a connected tunnel's health, whoever caused
// it: health is one of the Health constants; peer the public key of the
// peer that stalled ("" otherwise); since unix seconds, for stalled the
// last time the peer was heard from, otherwise when this health began;
// reason, for stalled, why, for people. A tunnel's health ends with its
// connection: StateChanged to disconnected says so, not this signal.
const SignalHealthChanged = "HealthChanged"

// Health is how a connected tunnel is doing, as the helper judges it
// from the device's traffic (Status key Health, HealthChanged). A newer
// helper may send a value not listed here; clients pass it on as it
// came. A tunnel that is not connected has the health "".
type Health string

// The health values.
const (
	// HealthOK: the peers answer what is sent to them, or the tunnel
	// sends nothing that needs an answer (an idle tunnel, keepalives).
	HealthOK Health = "ok"
	// HealthWaiting: connected less than 15 s ago, no handshake yet.
	HealthWaiting Health = "waiting"
	// HealthStalled: for 15 s data was sent and nothing came back, or
	// the last handshake is older than 180 s while data is sent, or the
	// tunnel's routing was deleted and could not be put back (Reason
	// says which). The helper is healing it.
	HealthStalled Health = "stalled"
)

// HealthChange is one HealthChanged signal.
type HealthChange struct {
	Name   string
	Health Health
	Peer   string // public key of the stalled peer
	Since  int64  // unix seconds
	Reason string
}
