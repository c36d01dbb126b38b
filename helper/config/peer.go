package config

import (
	"fmt"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Setters for the [Peer] keys. Each stores its entry's value or says what
// is wrong with it, in words that never quote the value.

func setPublicKey(p *parser, e entry) problem {
	k, msg := parseKey(e.value)
	switch {
	case msg != "":
		return msg
	case k == (wgtypes.Key{}):
		return "the key is all zeros"
	}
	if first, dup := p.peerKeys[k]; dup {
		// Only a line number is formatted in: it is not a value.
		return problem(fmt.Sprintf("the same key as the PublicKey on line %d", first.line))
	}
	p.peerKeys[k] = keyLine{e.line, e.shown}
	p.peer.PublicKey, p.pubLine = k, e.line
	return ""
}

func setPresharedKey(p *parser, e entry) problem {
	// An all-zero preshared key is wg's way of saying "none"; allow it.
	k, msg := parseKey(e.value)
	if msg != "" {
		return msg
	}
	p.peer.PresharedKey = &k
	return ""
}

func setAllowedIPs(p *parser, e entry) problem {
	prefixes, msg := parseAddressList(e.value)
	if msg != "" {
		return msg
	}
	for _, a := range prefixes {
		// wg warns about host bits and the kernel drops them.
		p.peer.AllowedIPs = append(p.peer.AllowedIPs, a.Masked())
	}
	return ""
}

func setEndpoint(p *parser, e entry) problem {
	ep, msg := parseEndpoint(e.value)
	if msg != "" {
		return msg
	}
	p.peer.Endpoint = ep
	return ""
}

func setPersistentKeepalive(p *parser, e entry) problem {
	if strings.EqualFold(e.value, "off") {
		p.peer.PersistentKeepalive = 0
		return ""
	}
	v, ok := parseUint(e.value, 16)
	if !ok {
		return "want off or a number of seconds from 0 to 65535"
	}
	p.peer.PersistentKeepalive = int(v)
	return ""
}
