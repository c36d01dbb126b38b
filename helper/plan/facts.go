package plan

import "net/netip"

// Facts is what the planner needs to know about the machine. The engine
// reads them just before planning; tests write them by hand.
type Facts struct {
	// UsedTables holds every routing table that has an IPv4 or IPv6 route;
	// a full tunnel takes the first table from 51820 up that is not here.
	UsedTables map[uint32]bool
	// RulePrefs4 and RulePrefs6 are the priorities of the existing policy
	// rules, as the kernel lists them.
	RulePrefs4, RulePrefs6 []uint32
	// PathMTU is the largest MTU of the routes towards the peers'
	// endpoints, else that of the default route; 0 when unknown.
	PathMTU int
	// SrcValidMark is the current net.ipv4.conf.all.src_valid_mark.
	SrcValidMark string
	// Endpoints holds each peer's endpoint resolved to an address, by peer
	// index; peers without an endpoint have none.
	Endpoints map[int]netip.AddrPort
	// DNS is read only when the config has DNS servers.
	DNS DNSFacts
	// NoIPv6 is set when the kernel has no IPv6 at all (booted with
	// ipv6.disable=1: netlink answers EAFNOSUPPORT). Nothing of IPv6 can
	// leak then, and no IPv6 rule, route or table can be added.
	NoIPv6 bool
}

// nextRulePref returns the priority the kernel gives a rule added without
// one (fib_default_rule_pref): one less than the second rule's priority,
// or 0 when there is no such rule or its priority is 0. It also inserts the
// new priority where the kernel would, so that a later call sees it.
func nextRulePref(prefs *[]uint32) uint32 {
	p := *prefs
	var pref uint32
	if len(p) >= 2 && p[1] != 0 {
		pref = p[1] - 1
	}
	// The kernel inserts after every rule whose priority is <= the new one.
	i := 0
	for i < len(p) && p[i] <= pref {
		i++
	}
	p = append(p, 0)
	copy(p[i+1:], p[i:])
	p[i] = pref
	*prefs = p
	return pref
}
