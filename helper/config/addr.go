package config

import (
	"net/netip"
	"strings"
)

// splitList splits a comma-separated value into trimmed items. An empty
// value is an empty list; an empty item ("a,,b" or a trailing comma) is an
// error, as wg(8) makes it for AllowedIPs.
func splitList(v string) ([]string, problem) {
	if v == "" {
		return nil, ""
	}
	items := strings.Split(v, ",")
	for i, it := range items {
		if items[i] = trim(it); items[i] == "" {
			return nil, "empty item in the comma-separated list"
		}
	}
	return items, ""
}

// parseAddress reads an IP address with an optional /prefix-length. Without
// a length it is a single host (/32 or /128), as ip(8) and wg(8) read it.
// Host bits are kept; callers mask where wg would.
func parseAddress(s string) (netip.Prefix, problem) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return netip.Prefix{}, "not an IP address with an optional /prefix-length"
	case a.Zone() != "":
		// A zone names a link of this host; neither wg nor ip take one here.
		return netip.Prefix{}, "an IPv6 zone (%) is not allowed here"
	}
	n := a.BitLen()
	if hasBits {
		v, ok := parseUint(bits, 8)
		if !ok || int(v) > a.BitLen() {
			return netip.Prefix{}, "prefix length out of range"
		}
		n = int(v)
	}
	return netip.PrefixFrom(a, n), ""
}

// parseAddressList reads a comma-separated list of addresses with
// optional prefix lengths, as Address and AllowedIPs hold.
func parseAddressList(v string) ([]netip.Prefix, problem) {
	items, msg := splitList(v)
	if msg != "" {
		return nil, msg
	}
	out := make([]netip.Prefix, 0, len(items))
	for _, it := range items {
		a, msg := parseAddress(it)
		if msg != "" {
			return nil, msg
		}
		out = append(out, a)
	}
	return out, ""
}
