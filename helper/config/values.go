package config

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// parseAddress reads an address with an optional prefix length; without
// one it is a single host, as ip(8) and wg(8) read it.
func parseAddress(s string) (netip.Prefix, error) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("not an IP address with an optional /prefix-length")
	}
	a = a.Unmap()
	n := a.BitLen()
	if hasBits {
		v, err := parseUint(bits, 8)
		if err != nil || int(v) > a.BitLen() {
			return netip.Prefix{}, errors.New("prefix length out of range")
		}
		n = int(v)
	}
	return netip.PrefixFrom(a, n), nil
}

// parseEndpoint reads host:port, [v6]:port or a.b.c.d:port.
func parseEndpoint(s string) (*Endpoint, error) {
	var host, port string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		h, p, ok := strings.Cut(rest, "]")
		if !ok || !strings.HasPrefix(p, ":") {
			return nil, errors.New("want [IPv6]:port")
		}
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() {
			return nil, errors.New("not an IPv6 address inside [ ]")
		}
		host, port = h, p[1:]
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return nil, errors.New("missing port (want host:port)")
		}
		host, port = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return nil, errors.New("an IPv6 endpoint must be written [address]:port")
		}
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return nil, errors.New("not a host name or IP address")
		}
	}
	p, err := parseUint(port, 16)
	if err != nil || p == 0 {
		return nil, errors.New("want a port from 1 to 65535")
	}
	return &Endpoint{Host: host, Port: uint16(p)}, nil
}

// validHostname accepts DNS host names (letters, digits, hyphens and
// underscores in dot-separated labels).
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validDomain accepts a DNS search domain, or "~." style routing domains
// that resolvers understand.
func validDomain(s string) bool {
	if s == "~." {
		return true
	}
	return validHostname(strings.TrimPrefix(s, "~"))
}

// String renders an endpoint as wg(8) writes one.
func (e Endpoint) String() string {
	if a, err := netip.ParseAddr(e.Host); err == nil && a.Is6() {
		return "[" + e.Host + "]:" + strconv.Itoa(int(e.Port))
	}
	return e.Host + ":" + strconv.Itoa(int(e.Port))
}
