package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Blocking is everything the machine's block holds at one moment: the
// blocks of the tunnels (up, or kept after a crash) and lockdown's.
type Blocking struct {
	Tunnels []Block `json:"tunnels,omitempty"`
	// Lockdown, when set, is lockdown's own block (no link, no endpoint).
	Lockdown *Block `json:"lockdown,omitempty"`
}

// Empty reports whether nothing holds the block.
func (b Blocking) Empty() bool { return len(b.Tunnels) == 0 && b.Lockdown == nil }

// BlockFacts are what the rules need of the machine when they are made.
type BlockFacts struct {
	// LAN are the directly connected prefixes: those of the addresses of
	// the interfaces other than loopback and the tunnels.
	LAN []netip.Prefix
}

// BlockRule is one rule of the block's table, as data: every match that
// is set must hold, then Verdict applies. The firewall package turns it
// into nftables expressions; String gives it in nft's syntax.
type BlockRule struct {
	Chain  string `json:"chain"`            // input, output or forward
	Family Family `json:"family,omitempty"` // 0: both
	IIF    string `json:"iif,omitempty"`
	OIF    string `json:"oif,omitempty"`
	// Proto is the layer 4 protocol: "udp", "tcp" or "icmpv6"; "" any.
	Proto string       `json:"proto,omitempty"`
	SAddr netip.Prefix `json:"saddr,omitzero"`
	DAddr netip.Prefix `json:"daddr,omitzero"`
	SPort uint16       `json:"sport,omitempty"`
	DPort uint16       `json:"dport,omitempty"`
	Mark  uint32       `json:"mark,omitempty"`
	// ICMPv6Type matches one ICMPv6 type (Proto icmpv6).
	ICMPv6Type uint8 `json:"icmpv6Type,omitempty"`
	// Established matches conntrack state established or related.
	Established bool `json:"established,omitempty"`
	// Verdict is "accept", "drop", "reject" (icmpx admin-prohibited) or
	// "reset" (TCP reset).
	Verdict string `json:"verdict"`
}

// The chains of the block's table: base chains at filter priority 0.
var BlockChains = []string{"input", "forward", "output"}

// ICMPv6 types of NDP (RFC 4861).
const (
	icmpRS       = 133
	icmpRA       = 134
	icmpNS       = 135
	icmpNA       = 136
	icmpRedirect = 137
)

// BlockRules returns the rules of the block for b, in order, per chain:
// output lets out loopback, the tunnels' encrypted UDP to their
// endpoints (with their fwmark), the helper's own DNS lookups, DNS only
// to the configs' servers when they name any, everything into a tunnel
// interface, DHCPv4 and DHCPv6, NDP, and with allow-lan the LAN; the rest
// is rejected (TCP with a reset, the rest with icmpx admin-prohibited).
// Input takes loopback, the tunnels, replies, DHCP, NDP and with
// allow-lan the LAN, and drops the rest. Forward lets through what goes
// into or comes out of a tunnel (and the LAN with allow-lan).
func BlockRules(b Blocking, facts BlockFacts) []BlockRule {
	holders := slices.Clone(b.Tunnels)
	slices.SortFunc(holders, func(x, y Block) int { return strings.Compare(x.Link, y.Link) })
	if b.Lockdown != nil {
		holders = append(holders, *b.Lockdown)
	}
	lan := len(holders) > 0
	var dns []netip.Addr
	for _, h := range holders {
		lan = lan && h.AllowLAN
		dns = append(dns, h.DNS...)
	}
	slices.SortFunc(dns, func(x, y netip.Addr) int { return x.Compare(y) })
	dns = slices.Compact(dns)

	var out []BlockRule
	add := func(r BlockRule) { out = append(out, r) }

	// output
	add(BlockRule{Chain: "output", OIF: "lo", Verdict: "accept"})
	for _, h := range holders {
		// Its encrypted UDP with the tunnel's own address as source is
		// dropped before it can match the endpoint's rule (see Sources).
		for _, src := range h.Sources {
			if h.Mark != 0 {
				add(BlockRule{Chain: "output", Family: FamilyOf(src), Proto: "udp", Mark: h.Mark,
					SAddr: netip.PrefixFrom(src, src.BitLen()), Verdict: "drop"})
			}
		}
		for _, ep := range h.Endpoints {
			add(BlockRule{Chain: "output", Family: FamilyOf(ep.Addr()), Proto: "udp", Mark: h.Mark,
				DAddr: netip.PrefixFrom(ep.Addr(), ep.Addr().BitLen()), DPort: ep.Port(), Verdict: "accept"})
		}
	}
	for _, proto := range []string{"udp", "tcp"} {
		add(BlockRule{Chain: "output", Proto: proto, Mark: ResolverMark, DPort: 53, Verdict: "accept"})
	}
	if len(dns) > 0 {
		for _, d := range dns {
			for _, proto := range []string{"udp", "tcp"} {
				add(BlockRule{Chain: "output", Family: FamilyOf(d), Proto: proto, DAddr: netip.PrefixFrom(d, d.BitLen()), DPort: 53, Verdict: "accept"})
			}
		}
		add(BlockRule{Chain: "output", Proto: "udp", DPort: 53, Verdict: "reject"})
		add(BlockRule{Chain: "output", Proto: "tcp", DPort: 53, Verdict: "reset"})
	}
	for _, h := range holders {
		if h.Link != "" {
			add(BlockRule{Chain: "output", OIF: h.Link, Verdict: "accept"})
		}
	}
	add(BlockRule{Chain: "output", Family: IPv4, Proto: "udp", SPort: 68, DPort: 67, Verdict: "accept"})
	add(BlockRule{Chain: "output", Family: IPv6, Proto: "udp", SAddr: linkLocal6, SPort: 546, DPort: 547, Verdict: "accept"})
	for _, t := range []uint8{icmpRS, icmpNS, icmpNA} {
		add(BlockRule{Chain: "output", Family: IPv6, Proto: "icmpv6", ICMPv6Type: t, Verdict: "accept"})
	}
	if lan {
		for _, p := range lanPrefixes(facts) {
			add(BlockRule{Chain: "output", Family: FamilyOf(p.Addr()), DAddr: p, Verdict: "accept"})
		}
	}
	add(BlockRule{Chain: "output", Proto: "tcp", Verdict: "reset"})
	add(BlockRule{Chain: "output", Verdict: "reject"})

	// input
	add(BlockRule{Chain: "input", IIF: "lo", Verdict: "accept"})
	add(BlockRule{Chain: "input", Established: true, Verdict: "accept"})
	for _, h := range holders {
		if h.Link != "" {
			add(BlockRule{Chain: "input", IIF: h.Link, Verdict: "accept"})
		}
	}
	add(BlockRule{Chain: "input", Family: IPv4, Proto: "udp", SPort: 67, DPort: 68, Verdict: "accept"})
	add(BlockRule{Chain: "input", Family: IPv6, Proto: "udp", SAddr: linkLocal6, SPort: 547, DPort: 546, Verdict: "accept"})
	for _, t := range []uint8{icmpRA, icmpNS, icmpNA, icmpRedirect} {
		add(BlockRule{Chain: "input", Family: IPv6, Proto: "icmpv6", ICMPv6Type: t, Verdict: "accept"})
	}
	if lan {
		for _, p := range lanPrefixes(facts) {
			add(BlockRule{Chain: "input", Family: FamilyOf(p.Addr()), SAddr: p, Verdict: "accept"})
		}
	}
	add(BlockRule{Chain: "input", Verdict: "drop"})

	// forward
	for _, h := range holders {
		if h.Link != "" {
			add(BlockRule{Chain: "forward", IIF: h.Link, Verdict: "accept"})
			add(BlockRule{Chain: "forward", OIF: h.Link, Verdict: "accept"})
		}
	}
	if lan {
		for _, p := range lanPrefixes(facts) {
			add(BlockRule{Chain: "forward", Family: FamilyOf(p.Addr()), DAddr: p, Verdict: "accept"})
		}
	}
	add(BlockRule{Chain: "forward", Proto: "tcp", Verdict: "reset"})
	add(BlockRule{Chain: "forward", Verdict: "reject"})
	return out
}

var linkLocal6 = netip.MustParsePrefix("fe80::/10")

// lanPrefixes are what allow-lan lets through: the directly connected
// prefixes, link-local addresses, local-scope multicast (224.0.0.0/24,
// ff02::/16) and the limited broadcast.
func lanPrefixes(f BlockFacts) []netip.Prefix {
	out := []netip.Prefix{}
	for _, p := range f.LAN {
		p = p.Masked()
		if p.Bits() == 0 || p.Addr().IsLoopback() {
			continue // a default "connected" route is not a LAN
		}
		out = append(out, p)
	}
	out = append(out,
		netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("224.0.0.0/24"), netip.MustParsePrefix("255.255.255.255/32"),
		linkLocal6, netip.MustParsePrefix("ff02::/16"))
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}

// String writes the rule in nft's syntax.
func (r BlockRule) String() string {
	var p []string
	fam := func(f Family) string {
		if f == IPv6 {
			return "ip6"
		}
		return "ip"
	}
	if r.IIF != "" {
		p = append(p, fmt.Sprintf("iifname %q", r.IIF))
	}
	if r.OIF != "" {
		p = append(p, fmt.Sprintf("oifname %q", r.OIF))
	}
	if r.Family != 0 && !r.SAddr.IsValid() && !r.DAddr.IsValid() && r.Proto != "icmpv6" {
		p = append(p, "meta nfproto "+map[Family]string{IPv4: "ipv4", IPv6: "ipv6"}[r.Family])
	}
	if r.Established {
		p = append(p, "ct state established,related")
	}
	if r.Mark != 0 {
		p = append(p, fmt.Sprintf("meta mark %#x", r.Mark))
	}
	if r.SAddr.IsValid() {
		p = append(p, fmt.Sprintf("%s saddr %v", fam(FamilyOf(r.SAddr.Addr())), r.SAddr))
	}
	if r.DAddr.IsValid() {
		p = append(p, fmt.Sprintf("%s daddr %v", fam(FamilyOf(r.DAddr.Addr())), r.DAddr))
	}
	if r.Proto == "icmpv6" {
		p = append(p, fmt.Sprintf("icmpv6 type %d", r.ICMPv6Type))
	} else if r.Proto != "" {
		p = append(p, "meta l4proto "+r.Proto)
	}
	if r.SPort != 0 {
		p = append(p, fmt.Sprintf("th sport %d", r.SPort))
	}
	if r.DPort != 0 {
		p = append(p, fmt.Sprintf("th dport %d", r.DPort))
	}
	switch r.Verdict {
	case "reject":
		p = append(p, "reject with icmpx admin-prohibited")
	case "reset":
		p = append(p, "reject with tcp reset")
	default:
		p = append(p, r.Verdict)
	}
	return strings.Join(p, " ")
}
