// Package config parses WireGuard configuration files in the format that
// wg-quick(8) reads: wg(8)'s setconf format plus wg-quick's own keys in the
// [Interface] section.
package config

import (
	"net/netip"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Config is one parsed tunnel configuration.
type Config struct {
	Interface Interface
	Peers     []Peer
}

// TableMode says how routes for AllowedIPs are installed (wg-quick's Table key).
type TableMode int

const (
	// TableAuto is wg-quick's default: non-default prefixes go to the main
	// table and a /0 prefix gets policy routing in its own table.
	TableAuto TableMode = iota
	// TableOff adds no routes at all.
	TableOff
	// TableNumber puts every prefix, /0 included, into Table.Number and adds
	// no rules.
	TableNumber
)

// Table is the value of the Table key.
type Table struct {
	Mode   TableMode
	Number uint32 // set when Mode is TableNumber
}

// Interface is the [Interface] section.
type Interface struct {
	PrivateKey wgtypes.Key
	// Addresses keep their host bits: 10.0.0.2/24 is the address 10.0.0.2
	// with a /24 prefix route. An address given without a length is /32 or /128.
	Addresses  []netip.Prefix
	ListenPort *int    // nil when unset
	FwMark     *uint32 // nil when unset; 0 when "off"
	DNS        []netip.Addr
	DNSSearch  []string
	MTU        int // 0 when unset
	Table      Table
	PreUp      []string
	PostUp     []string
	PreDown    []string
	PostDown   []string
	SaveConfig bool
}

// Endpoint is a peer's endpoint as written; host names are resolved at
// connect time, not at parse time.
type Endpoint struct {
	Host string // a host name, an IPv4 address or an IPv6 address without brackets
	Port uint16
}

// Peer is one [Peer] section.
type Peer struct {
	PublicKey    wgtypes.Key
	PresharedKey *wgtypes.Key // nil when unset
	// AllowedIPs are masked to their prefix, as wg(8) stores them.
	AllowedIPs          []netip.Prefix
	Endpoint            *Endpoint // nil when unset
	PersistentKeepalive int       // seconds; 0 when unset or "off"
	Line                int       // line of the [Peer] header, for messages
}

// HasScripts reports whether the config has PreUp, PostUp, PreDown or
// PostDown hooks, which run shell commands as root and so need the
// administrator's consent.
func (c *Config) HasScripts() bool {
	in := c.Interface
	return len(in.PreUp)+len(in.PostUp)+len(in.PreDown)+len(in.PostDown) > 0
}

// FullTunnel reports whether the config routes everything through the
// tunnel with wg-quick's policy routing: some AllowedIPs is a /0 and the
// Table is auto.
func (c *Config) FullTunnel() bool {
	if c.Interface.Table.Mode != TableAuto {
		return false
	}
	for _, p := range c.Peers {
		for _, a := range p.AllowedIPs {
			if a.Bits() == 0 {
				return true
			}
		}
	}
	return false
}
