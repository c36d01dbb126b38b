package config

import "strings"

// validHostname accepts DNS host names: dot-separated labels of letters,
// digits, hyphens and underscores, with an optional final dot.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	// An all-digit top label is no name (RFC 3696 §2). getaddrinfo would
	// read "10.1" or "010.0.0.1" as an old-style, even octal, IPv4 address,
	// which is never what the author meant.
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// validSearchDomain accepts a DNS search domain, or a "~domain" routing
// domain (and "~." for all domains) as systemd-resolved understands them.
func validSearchDomain(s string) bool {
	if s == "~." {
		return true
	}
	return validHostname(strings.TrimPrefix(s, "~"))
}
