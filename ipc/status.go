package ipc

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Status is the reply of Status(name).
type Status struct {
	Name          string
	State         string
	Interface     string
	Addresses     []string
	Endpoint      string
	PublicKey     string
	FullTunnel    bool
	LastHandshake int64 // unix seconds; 0 = never
	RxBytes       uint64
	TxBytes       uint64
	Error         string // the last failure; "" if none
	// Extra holds keys this version does not know, so that a newer helper
	// can add keys without breaking older clients.
	Extra map[string]dbus.Variant
}

// ToMap encodes the status as the a{sv} on the wire.
func (s Status) ToMap() map[string]dbus.Variant {
	m := map[string]dbus.Variant{}
	for k, v := range s.Extra {
		m[k] = v
	}
	addrs := s.Addresses
	if addrs == nil {
		addrs = []string{}
	}
	m["Name"] = dbus.MakeVariant(s.Name)
	m["State"] = dbus.MakeVariant(s.State)
	m["Interface"] = dbus.MakeVariant(s.Interface)
	m["Addresses"] = dbus.MakeVariant(addrs)
	m["Endpoint"] = dbus.MakeVariant(s.Endpoint)
	m["PublicKey"] = dbus.MakeVariant(s.PublicKey)
	m["FullTunnel"] = dbus.MakeVariant(s.FullTunnel)
	m["LastHandshake"] = dbus.MakeVariant(s.LastHandshake)
	m["RxBytes"] = dbus.MakeVariant(s.RxBytes)
	m["TxBytes"] = dbus.MakeVariant(s.TxBytes)
	m["Error"] = dbus.MakeVariant(s.Error)
	return m
}

// StatusFromMap decodes the a{sv}; a known key of the wrong type is an
// error, unknown keys go to Extra.
func StatusFromMap(m map[string]dbus.Variant) (Status, error) {
	var s Status
	fields := map[string]any{
		"Name": &s.Name, "State": &s.State, "Interface": &s.Interface, "Addresses": &s.Addresses,
		"Endpoint": &s.Endpoint, "PublicKey": &s.PublicKey, "FullTunnel": &s.FullTunnel,
		"LastHandshake": &s.LastHandshake, "RxBytes": &s.RxBytes, "TxBytes": &s.TxBytes, "Error": &s.Error,
	}
	for k, v := range m {
		dst, ok := fields[k]
		if !ok {
			if s.Extra == nil {
				s.Extra = map[string]dbus.Variant{}
			}
			s.Extra[k] = v
			continue
		}
		if err := v.Store(dst); err != nil {
			return s, fmt.Errorf("status key %s: %w", k, err)
		}
	}
	return s, nil
}
