package config

import (
	"fmt"
	"strings"
)

// WGQuickStrip renders the config without wg-quick's own keys (Address,
// DNS, MTU, Table, the hooks and SaveConfig), as `wg-quick strip` does,
// giving text that `wg setconf` reads. Unlike wg-quick it regenerates the
// text from the parsed config rather than filtering lines, so the output is
// canonical: no comments, one AllowedIPs line per peer, keys in a fixed
// order.
func (c *Config) WGQuickStrip() string {
	var b strings.Builder
	in := c.Interface
	b.WriteString("[Interface]\n")
	fmt.Fprintf(&b, "PrivateKey = %s\n", in.PrivateKey)
	if in.ListenPort != nil {
		fmt.Fprintf(&b, "ListenPort = %d\n", *in.ListenPort)
	}
	if in.FwMark != nil {
		if *in.FwMark == 0 {
			b.WriteString("FwMark = off\n")
		} else {
			fmt.Fprintf(&b, "FwMark = %#x\n", *in.FwMark)
		}
	}
	for _, p := range c.Peers {
		b.WriteString("\n[Peer]\n")
		fmt.Fprintf(&b, "PublicKey = %s\n", p.PublicKey)
		if p.PresharedKey != nil {
			fmt.Fprintf(&b, "PresharedKey = %s\n", *p.PresharedKey)
		}
		if len(p.AllowedIPs) > 0 {
			ips := make([]string, len(p.AllowedIPs))
			for i, a := range p.AllowedIPs {
				ips[i] = a.String()
			}
			fmt.Fprintf(&b, "AllowedIPs = %s\n", strings.Join(ips, ", "))
		}
		if p.Endpoint != nil {
			fmt.Fprintf(&b, "Endpoint = %s\n", p.Endpoint)
		}
		if p.PersistentKeepalive > 0 {
			fmt.Fprintf(&b, "PersistentKeepalive = %d\n", p.PersistentKeepalive)
		}
	}
	return b.String()
}
