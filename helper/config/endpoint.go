package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// parseEndpoint reads host:port, [IPv6]:port or IPv4:port. Host names are
// only checked for form; they are resolved when the tunnel comes up.
func parseEndpoint(s string) (*Endpoint, problem) {
	var host, port string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		h, p, ok := strings.Cut(rest, "]")
		switch {
		case !ok:
			return nil, "missing ']' after the IPv6 address"
		case p == "" || p == ":":
			return nil, "missing port"
		case p[0] != ':':
			return nil, "want [IPv6 address]:port"
		}
		// Brackets are for IPv6 only: a bracketed IPv4 address or name is
		// accepted by getaddrinfo but is most likely a typo.
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() {
			return nil, "not an IPv6 address inside [ ]"
		}
		host, port = h, p[1:]
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 || i == len(s)-1 {
			return nil, "missing port"
		}
		host, port = s[:i], s[i+1:]
		switch {
		case host == "":
			return nil, "missing host"
		case strings.Contains(host, ":"):
			return nil, "an IPv6 address must be in brackets: [address]:port"
		}
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return nil, "not a host name or IP address"
		}
	}
	p, ok := parseUint(port, 16)
	if !ok || p == 0 {
		return nil, "port must be a number from 1 to 65535"
	}
	return &Endpoint{Host: host, Port: uint16(p)}, ""
}

// String renders the endpoint as wg(8) reads it, with brackets around an
// IPv6 address.
func (e Endpoint) String() string {
	if a, err := netip.ParseAddr(e.Host); err == nil && a.Is6() {
		return "[" + e.Host + "]:" + strconv.Itoa(int(e.Port))
	}
	return e.Host + ":" + strconv.Itoa(int(e.Port))
}
