package ipc

import (
	"fmt"
	"maps"

	"github.com/godbus/dbus/v5"
)

// Status is the reply of Status(name), an a{sv} on the wire.
type Status struct {
	Name          string   // key Name, s
	State         State    // key State, s: one of the State constants
	Interface     string   // key Interface, s
	Addresses     []string // key Addresses, as
	Endpoint      string   // key Endpoint, s
	PublicKey     string   // key PublicKey, s: the tunnel interface's own public key (what the peer has as its [Peer] PublicKey)
	FullTunnel    bool     // key FullTunnel, b
	LastHandshake int64    // key LastHandshake, x: unix seconds; 0 = never
	RxBytes       uint64   // key RxBytes, t
	TxBytes       uint64   // key TxBytes, t
	Error         string   // key Error, s: the last failure; "" if none
	// DNS lists the config's DNS servers and search domains (key DNS, as).
	DNS []string
	// DNSManager says who was given them while connected (key DNSManager,
	// s): "systemd-resolved", "resolvconf" or "resolv.conf"; "" otherwise.
	DNSManager string
	// LeakGuard lists the address families ("IPv4", "IPv6") that a full
	// tunnel of the other family blocks while connected (key LeakGuard, as).
	LeakGuard []string
	// LeakGuardSkipped says why a full tunnel of one family leaves the
	// other unguarded, e.g. a kernel without IPv6 (key LeakGuardSkipped,
	// s); "" otherwise.
	LeakGuardSkipped string
	// Peers lists the peers' public keys, in the config's order (key
	// Peers, as). Public keys are not secrets.
	Peers []string
	// Health is the connected tunnel's health (key Health, s): see the
	// Health constants; "" when not connected.
	Health Health
	// HealthPeer is the public key of the peer that stalled (key
	// HealthPeer, s); "" otherwise.
	HealthPeer string
	// HealthSince is unix seconds (key HealthSince, x): for stalled the
	// last time the peer was heard from, otherwise when this health
	// began; 0 when not connected.
	HealthSince int64
	// HealthReason says why a stalled tunnel is (key HealthReason, s).
	HealthReason string
	// Autoconnect is the tunnel's autoconnect option (key Autoconnect,
	// s): "off", or "boot" to come up at boot.
	Autoconnect string
	// KillSwitch says whether the tunnel blocks traffic outside itself
	// while connecting, connected or after its helper died (key
	// KillSwitch, b): the kill-switch option, on by default for a full
	// tunnel, never for a split one.
	KillSwitch bool
	// AllowLAN is the tunnel's allow-lan option (key AllowLAN, b).
	AllowLAN bool
	// Blocking says whether this tunnel's block is in the kernel now (key
	// Blocking, b): also while it is down after a crash, until an explicit
	// Disconnect.
	Blocking bool
	// Extra holds the keys this version does not know, so that a newer
	// helper can add keys (DNS, …) without breaking older clients, and
	// a helper can send them through ToMap.
	Extra map[string]dbus.Variant
}

// ToMap encodes the status as the a{sv} on the wire. Every known key is
// present; a key of Extra never replaces one of them.
func (s Status) ToMap() map[string]dbus.Variant {
	m := maps.Clone(s.Extra)
	if m == nil {
		m = make(map[string]dbus.Variant, 16)
	}
	m["Name"] = dbus.MakeVariant(s.Name)
	// A plain string, as the variant holds once it has crossed the bus.
	m["State"] = dbus.MakeVariant(string(s.State))
	m["Interface"] = dbus.MakeVariant(s.Interface)
	m["Addresses"] = dbus.MakeVariant(nonNil(s.Addresses))
	m["Endpoint"] = dbus.MakeVariant(s.Endpoint)
	m["PublicKey"] = dbus.MakeVariant(s.PublicKey)
	m["FullTunnel"] = dbus.MakeVariant(s.FullTunnel)
	m["LastHandshake"] = dbus.MakeVariant(s.LastHandshake)
	m["RxBytes"] = dbus.MakeVariant(s.RxBytes)
	m["TxBytes"] = dbus.MakeVariant(s.TxBytes)
	m["Error"] = dbus.MakeVariant(s.Error)
	m["DNS"] = dbus.MakeVariant(nonNil(s.DNS))
	m["DNSManager"] = dbus.MakeVariant(s.DNSManager)
	m["LeakGuard"] = dbus.MakeVariant(nonNil(s.LeakGuard))
	m["LeakGuardSkipped"] = dbus.MakeVariant(s.LeakGuardSkipped)
	m["Peers"] = dbus.MakeVariant(nonNil(s.Peers))
	m["Health"] = dbus.MakeVariant(string(s.Health))
	m["HealthPeer"] = dbus.MakeVariant(s.HealthPeer)
	m["HealthSince"] = dbus.MakeVariant(s.HealthSince)
	m["HealthReason"] = dbus.MakeVariant(s.HealthReason)
	m["Autoconnect"] = dbus.MakeVariant(s.Autoconnect)
	m["KillSwitch"] = dbus.MakeVariant(s.KillSwitch)
	m["AllowLAN"] = dbus.MakeVariant(s.AllowLAN)
	m["Blocking"] = dbus.MakeVariant(s.Blocking)
	return m
}

// StatusFromMap decodes the a{sv} of Status. A known key must have exactly
// its contract's type (no silent int32 → int64 or int64 → uint64
// conversion, which would hide a helper bug); a missing key leaves its
// zero value; unknown keys go to Extra.
func StatusFromMap(m map[string]dbus.Variant) (Status, error) {
	var s Status
	for k, v := range m {
		var err error
		switch k {
		case "Name":
			err = take(k, v, &s.Name)
		case "State":
			var st string
			err = take(k, v, &st)
			s.State = State(st)
		case "Interface":
			err = take(k, v, &s.Interface)
		case "Addresses":
			err = take(k, v, &s.Addresses)
		case "Endpoint":
			err = take(k, v, &s.Endpoint)
		case "PublicKey":
			err = take(k, v, &s.PublicKey)
		case "FullTunnel":
			err = take(k, v, &s.FullTunnel)
		case "LastHandshake":
			err = take(k, v, &s.LastHandshake)
		case "RxBytes":
			err = take(k, v, &s.RxBytes)
		case "TxBytes":
			err = take(k, v, &s.TxBytes)
		case "Error":
			err = take(k, v, &s.Error)
		case "DNS":
			err = take(k, v, &s.DNS)
		case "DNSManager":
			err = take(k, v, &s.DNSManager)
		case "LeakGuard":
			err = take(k, v, &s.LeakGuard)
		case "LeakGuardSkipped":
			err = take(k, v, &s.LeakGuardSkipped)
		case "Peers":
			err = take(k, v, &s.Peers)
		case "Health":
			var h string
			err = take(k, v, &h)
			s.Health = Health(h)
		case "HealthPeer":
			err = take(k, v, &s.HealthPeer)
		case "HealthSince":
			err = take(k, v, &s.HealthSince)
		case "HealthReason":
			err = take(k, v, &s.HealthReason)
		case "Autoconnect":
			err = take(k, v, &s.Autoconnect)
		case "KillSwitch":
			err = take(k, v, &s.KillSwitch)
		case "AllowLAN":
			err = take(k, v, &s.AllowLAN)
		case "Blocking":
			err = take(k, v, &s.Blocking)
		default:
			if s.Extra == nil {
				s.Extra = map[string]dbus.Variant{}
			}
			s.Extra[k] = v
		}
		if err != nil {
			return Status{}, err
		}
	}
	return s, nil
}

// nonNil makes an empty list an empty array on the wire rather than a
// nil that godbus cannot encode.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// take stores v in *dst if v holds exactly a T.
func take[T any](key string, v dbus.Variant, dst *T) error {
	x, ok := v.Value().(T)
	if !ok {
		return fmt.Errorf("status key %s: got type %s, want %s", key, v.Signature(), dbus.SignatureOf(*dst))
	}
	*dst = x
	return nil
}
