package config

import (
	"fmt"
	"regexp"
	"strings"
)

// HasScripts reports whether the config has PreUp, PostUp, PreDown or
// PostDown hooks.
func (c *Config) HasScripts() bool {
	in := c.Interface
	return len(in.PreUp)+len(in.PostUp)+len(in.PreDown)+len(in.PostDown) > 0
}

// WGQuickStrip renders the config without wg-quick's own keys, as
// `wg-quick strip` does: text that `wg setconf` reads.
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

// secretLine matches a PrivateKey or PresharedKey line; the groups are
// what stays: the key and '=' with their spacing, and a trailing comment.
var secretLine = regexp.MustCompile(`(?i)^(\s*(?:privatekey|presharedkey)\s*=\s*)([^#\r\n]*?)(\s*(?:#.*)?\r?)$`)

// Redact returns the config text with the values of PrivateKey and
// PresharedKey replaced by "(hidden)"; everything else is kept byte for
// byte.
func Redact(data []byte) string {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if m := secretLine.FindStringSubmatch(l); m != nil && m[2] != "" {
			lines[i] = m[1] + "(hidden)" + m[3]
		}
	}
	return strings.Join(lines, "\n")
}
