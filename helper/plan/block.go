package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The kill switch's operations. A tunnel's block is held while it is up
// (KSHold, undone by KSRelease); the release is the one inverse that a
// crash cleanup does not run: the block is kept (KSKeep) until an
// explicit Disconnect drops it (KSDrop). Lockdown (KSLockdown) holds the
// same block with no tunnel.
const (
	KSHold     Kind = "ks-hold"     // the tunnel holds the block, with what it lets through
	KSRelease  Kind = "ks-release"  // it no longer does (inverse of KSHold; kept by cleanup)
	KSKeep     Kind = "ks-keep"     // a tunnel that is down keeps its block (a crash, a restart)
	KSDrop     Kind = "ks-drop"     // it no longer does
	KSLockdown Kind = "ks-lockdown" // lockdown on (Block set) or off (nil)
	// KSReleased is a journal marker: the tunnel's block was released
	// while it stayed up (kill-switch turned off); the KSRelease records
	// before it are done.
	KSReleased Kind = "ks-released"
)

// BlockTable is the nftables table of the block: inet, one for the whole
// machine, whoever holds it.
const BlockTable = "wgtray"

// ResolverMark is the fwmark of the helper's own DNS queries (resolving
// endpoint names): the block lets them through to port 53 wherever they
// go. Only a process with CAP_NET_ADMIN can set a mark.
const ResolverMark = 0x77677472 // "wgtr"

// Block is what one holder of the block lets through besides loopback,
// DHCP and NDP: its tunnel interface, its peers' endpoints (matched with
// the tunnel's fwmark), DNS only to its servers, and the LAN if allowed.
type Block struct {
	// Link is the tunnel interface: everything may go into it. Empty for
	// lockdown without a tunnel.
	Link string `json:"link,omitempty"`
	// Mark is the tunnel's fwmark, carried by its encrypted UDP.
	Mark      uint32           `json:"mark,omitempty"`
	Endpoints []netip.AddrPort `json:"endpoints,omitempty"`
	// DNS are the config's DNS servers: port 53 goes only to them. None:
	// DNS follows the other rules.
	DNS      []netip.Addr `json:"dns,omitempty"`
	AllowLAN bool         `json:"allowLAN"`
	// Sources are the tunnel's own addresses, which its encrypted UDP
	// must never carry as its source: a network manager that puts the
	// LAN's default route back before the LAN's address (NetworkManager
	// 1.52 does, during IPv4 duplicate address detection) makes the
	// kernel pick the tunnel's address for it, and a peer that roams to
	// that source sends its replies into its own tunnel, a loop that
	// stops traffic for seconds.
	Sources []netip.Addr `json:"sources,omitempty"`
}

func (b Block) String() string {
	var eps []string
	for _, e := range b.Endpoints {
		eps = append(eps, e.String())
	}
	var dns []string
	for _, d := range b.DNS {
		dns = append(dns, d.String())
	}
	s := fmt.Sprintf("block outside %s (mark %#x, endpoints [%s]", b.Link, b.Mark, strings.Join(eps, " "))
	if len(dns) > 0 {
		s += ", dns only [" + strings.Join(dns, " ") + "]"
	}
	if b.AllowLAN {
		s += ", lan allowed"
	}
	if len(b.Sources) > 0 {
		var src []string
		for _, a := range b.Sources {
			src = append(src, a.String())
		}
		s += ", never from [" + strings.Join(src, " ") + "]"
	}
	return s + ")"
}

// Equal reports whether b and o let the same through.
func (b Block) Equal(o Block) bool {
	return b.Link == o.Link && b.Mark == o.Mark && b.AllowLAN == o.AllowLAN &&
		slices.Equal(b.Endpoints, o.Endpoints) && slices.Equal(b.DNS, o.DNS) && slices.Equal(b.Sources, o.Sources)
}

// planBlock is the block of a full tunnel planned as link.
func planBlock(link string, table uint32, peers int, facts Facts, dns *DNS, allowLAN bool, addrs []netip.Prefix) *Block {
	b := &Block{Link: link, Mark: table, AllowLAN: allowLAN, Sources: BlockSources(addrs)}
	for i, ap := range facts.Endpoints {
		if i < peers && ap.IsValid() {
			b.Endpoints = append(b.Endpoints, ap)
		}
	}
	b.Endpoints = SortEndpoints(b.Endpoints)
	if dns != nil {
		b.DNS = slices.Clone(dns.Servers)
	}
	return b
}

// BlockSources returns a Block's Sources for a tunnel with addresses
// addrs: their addresses, sorted, each once.
func BlockSources(addrs []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, a.Addr())
	}
	slices.SortFunc(out, func(x, y netip.Addr) int { return x.Compare(y) })
	return slices.Compact(out)
}

// SortEndpoints sorts and deduplicates endpoints in place.
func SortEndpoints(eps []netip.AddrPort) []netip.AddrPort {
	slices.SortFunc(eps, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return slices.Compact(eps)
}
