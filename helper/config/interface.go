package config

import (
	"net/netip"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Setters for the [Interface] keys. Each stores its entry's value or says
// what is wrong with it, in words that never quote the value.

func setPrivateKey(p *parser, e entry) problem {
	k, msg := parseKey(e.value)
	if msg != "" {
		return msg
	}
	if k == (wgtypes.Key{}) {
		// wg would take it and the tunnel would never come up.
		return "the key is all zeros"
	}
	p.cfg.Interface.PrivateKey, p.hasPriv = k, true
	return ""
}

func setListenPort(p *parser, e entry) problem {
	// wg(8) also resolves service names here; a number is all that makes
	// sense in a config that must mean the same on every machine.
	v, ok := parseUint(e.value, 16)
	if !ok {
		return "want a port number from 0 to 65535"
	}
	port := int(v)
	p.cfg.Interface.ListenPort = &port
	return ""
}

func setFwMark(p *parser, e entry) problem {
	m, ok := parseFwMark(e.value)
	if !ok {
		return "want off, a decimal number or a 0x hex number below 2^32"
	}
	p.cfg.Interface.FwMark = &m
	return ""
}

func setAddress(p *parser, e entry) problem {
	prefixes, msg := parseAddressList(e.value)
	if msg != "" {
		return msg
	}
	p.cfg.Interface.Addresses = append(p.cfg.Interface.Addresses, prefixes...)
	return ""
}

// setDNS sorts entries as wg-quick does, into servers and search domains,
// but checks each: wg-quick would hand resolvconf anything.
func setDNS(p *parser, e entry) problem {
	items, msg := splitList(e.value)
	if msg != "" {
		return msg
	}
	in := &p.cfg.Interface
	for _, it := range items {
		if a, err := netip.ParseAddr(it); err == nil {
			in.DNS = append(in.DNS, a)
		} else if validSearchDomain(it) {
			in.DNSSearch = append(in.DNSSearch, it)
		} else {
			return "an entry is neither an IP address nor a DNS search domain"
		}
	}
	return ""
}

func setMTU(p *parser, e entry) problem {
	v, ok := parseUint(e.value, 32)
	if !ok || v < minMTU || v > maxMTU {
		return "want a number from 68 to 65535"
	}
	p.cfg.Interface.MTU = int(v)
	p.mtuLine, p.mtuKey = e.line, e.shown
	return ""
}

func setTable(p *parser, e entry) problem {
	t, ok := parseTable(e.value)
	if !ok {
		return "want off, auto, main, default or a table number from 1 to 4294967295"
	}
	p.cfg.Interface.Table = t
	return ""
}

// hookSetter returns the setter for one of the PreUp, PostUp, PreDown and
// PostDown lists. A hook is what wg-quick runs: the line up to its first
// '#' (parse_options strips "${line%%#*}" from every line, hooks
// included), after the first '='; repeated keys run in order.
func hookSetter(list func(*Interface) *[]string) func(*parser, entry) problem {
	return func(p *parser, e entry) problem {
		l := list(&p.cfg.Interface)
		*l = append(*l, e.value)
		return ""
	}
}

func setSaveConfig(p *parser, e entry) problem {
	// wg-quick reads this while matching case-insensitively.
	switch strings.ToLower(e.value) {
	case "true":
		p.cfg.Interface.SaveConfig = true
	case "false":
		p.cfg.Interface.SaveConfig = false
	default:
		return "want true or false"
	}
	return ""
}
