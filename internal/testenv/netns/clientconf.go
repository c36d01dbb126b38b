package netns

import (
	"fmt"
	"strings"
)

// ClientOpts shape the client config that ClientConfig writes. The zero
// value is a full tunnel over IPv4 with both tunnel addresses.
type ClientOpts struct {
	Addresses   string // Address line; default "203.0.113.2/32, 2001:db8:3::2/128"
	AllowedIPs  string // the peer's AllowedIPs; default "0.0.0.0/0, ::/0"
	Endpoint6   bool   // reach the peer at PeerEndpoint6 instead of PeerEndpoint4
	NoKeepalive bool   // leave out "PersistentKeepalive = 25"
	MTU         int    // MTU line if not 0
	Table       string // Table line if not ""
	FwMark      string // FwMark line if not ""
	DNS         string // DNS line if not ""
	Extra       string // more [Interface] lines, verbatim, each ending in "\n"
}

// ClientConfig returns a wg-quick config with which the client reaches
// the peer's WireGuard server.
func (tp *Topology) ClientConfig(o ClientOpts) string {
	if o.Addresses == "" {
		o.Addresses = "203.0.113.2/32, 2001:db8:3::2/128"
	}
	if o.AllowedIPs == "" {
		o.AllowedIPs = "0.0.0.0/0, ::/0"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Interface]\nPrivateKey = %s\nAddress = %s\n", tp.ClientPrivateKey, o.Addresses)
	if o.MTU != 0 {
		fmt.Fprintf(&b, "MTU = %d\n", o.MTU)
	}
	for _, kv := range [][2]string{{"Table", o.Table}, {"FwMark", o.FwMark}, {"DNS", o.DNS}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
		}
	}
	b.WriteString(o.Extra)
	ep := tp.PeerEndpoint4
	if o.Endpoint6 {
		ep = tp.PeerEndpoint6
	}
	fmt.Fprintf(&b, "\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n", tp.PeerPublicKey, ep, o.AllowedIPs)
	if !o.NoKeepalive {
		// Keepalives make the peer learn the client's endpoint without
		// waiting for traffic, as a roaming client's config would.
		b.WriteString("PersistentKeepalive = 25\n")
	}
	return b.String()
}
