package config

import (
	"strconv"
	"strings"
)

// parseUint reads a plain decimal number of at most bits bits. Signs,
// spaces and "0x" are refused: strconv alone would accept "+5".
func parseUint(v string, bits int) (uint64, bool) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, bits)
	return n, err == nil
}

// parseFwMark reads FwMark as wg(8) does: "off" (any case) is 0, "0x"
// followed by hex digits is hexadecimal, and anything else must be
// decimal.
func parseFwMark(v string) (uint32, bool) {
	if strings.EqualFold(v, "off") {
		return 0, true
	}
	if h, ok := strings.CutPrefix(v, "0x"); ok && h != "" {
		if strings.Trim(h, "0123456789abcdefABCDEF") != "" {
			return 0, false
		}
		m, err := strconv.ParseUint(h, 16, 32)
		return uint32(m), err == nil
	}
	m, ok := parseUint(v, 32)
	return uint32(m), ok
}

// tableNames are the iproute2 table names that wg-quick would pass to ip(8)
// and that make sense for routes. "local" (255) is left out on purpose:
// routes there make addresses local to this host.
var tableNames = map[string]uint32{"main": 254, "default": 253}

// parseTable reads the Table key. Like wg-quick, which compares after
// leaving its case-insensitive parsing, "off" and "auto" are lower case.
func parseTable(v string) (Table, bool) {
	switch v {
	case "off":
		return Table{Mode: TableOff}, true
	case "auto":
		return Table{Mode: TableAuto}, true
	}
	if n, ok := tableNames[v]; ok {
		return Table{Mode: TableNumber, Number: n}, true
	}
	// Table 0 is "unspec" to the kernel: routes added there land in main,
	// which is not what someone writing a number means.
	n, ok := parseUint(v, 32)
	if !ok || n == 0 {
		return Table{}, false
	}
	return Table{Mode: TableNumber, Number: uint32(n)}, true
}

// MTU bounds. ip(8) takes 68 (the IPv4 minimum) up to 65535 for a
// WireGuard link; IPv6 needs at least 1280.
const (
	minMTU  = 68
	maxMTU  = 65535
	minMTU6 = 1280
)
