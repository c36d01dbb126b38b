// Package diagnose is the helper's side of `wgtray doctor`: it gathers
// what the kernel, the resolver and the other network tools of this
// machine say (gather_linux.go and the probes, which need the helper's
// privileges), and turns it into verdicts (the pure functions of
// route.go, leaks.go, conflicts.go, mtu.go and health.go, tested without
// root). Nothing here changes the machine: the only packets it sends are
// the active probes' DNS query and pings, each bounded.
package diagnose

import (
	"fmt"
	"net/netip"
	"strings"
)

// Well-known routing tables.
const (
	tableLocal   = 255
	tableMain    = 254
	tableDefault = 253
)

// Rule actions, as the kernel numbers them (FR_ACT_*).
const (
	actToTable     = 1
	actGoto        = 2
	actNop         = 3
	actBlackhole   = 6
	actUnreachable = 7
	actProhibit    = 8
)

// Rule is a policy routing rule as the kernel lists it.
type Rule struct {
	Family   int // 4 or 6
	Priority uint32
	Action   int // actToTable, …
	Table    uint32
	// Mark and Mask select by fwmark: a packet matches when
	// (mark ^ Mark) & Mask == 0; Mask 0 selects every packet.
	Mark, Mask uint32
	Invert     bool
	Src, Dst   netip.Prefix // zero Prefix: all
	Iif, Oif   string
	IPProto    int
	Sport      [2]uint16 // zero: any
	Dport      [2]uint16
	UID        *[2]uint32
	// SuppressPrefixlen rejects a result of a prefix length at most this
	// long; -1 when unset.
	SuppressPrefixlen int
	// Other says the rule selects by something this package does not
	// evaluate (tos, l3mdev, interface group, tunnel id).
	Other bool
}

// Packet is what a route lookup is about: a locally generated packet.
type Packet struct {
	Dst netip.Addr
	// Src is the source address, once chosen: a connecting socket's
	// second lookup has it, and rules selecting by source match only then.
	Src   netip.Addr
	Mark  uint32
	Proto int // 6 tcp, 17 udp, 0 none
	Port  uint16
	UID   uint32
}

// matches reports whether r selects p, as the kernel's fib_rule_match
// does for a packet this machine sends (input interface lo, no output
// interface bound, no source address chosen yet).
func (r Rule) matches(p Packet) bool {
	m := r.selects(p)
	if r.Invert {
		return !m
	}
	return m
}

func (r Rule) selects(p Packet) bool {
	if r.Other {
		return false
	}
	if r.Iif != "" && r.Iif != "lo" {
		return false
	}
	if r.Oif != "" {
		return false
	}
	if (p.Mark^r.Mark)&r.Mask != 0 {
		return false
	}
	if r.Src.IsValid() && r.Src.Bits() > 0 && (!p.Src.IsValid() || !r.Src.Contains(p.Src)) {
		return false
	}
	if r.Dst.IsValid() && !r.Dst.Contains(p.Dst) {
		return false
	}
	if r.IPProto != 0 && r.IPProto != p.Proto {
		return false
	}
	if r.Dport != [2]uint16{} && (p.Port < r.Dport[0] || p.Port > r.Dport[1]) {
		return false
	}
	if r.Sport != [2]uint16{} {
		return false // the source port is not chosen yet either
	}
	if r.UID != nil && (p.UID < r.UID[0] || p.UID > r.UID[1]) {
		return false
	}
	return true
}

// String is the rule as `ip rule` shows it, after the priority.
func (r Rule) String() string {
	var b strings.Builder
	if r.Invert {
		b.WriteString("not ")
	}
	b.WriteString("from ")
	if r.Src.IsValid() && r.Src.Bits() > 0 {
		b.WriteString(r.Src.String())
	} else {
		b.WriteString("all")
	}
	if r.Dst.IsValid() && r.Dst.Bits() > 0 {
		b.WriteString(" to " + r.Dst.String())
	}
	if r.Mask != 0 {
		if r.Mask == 0xffffffff {
			fmt.Fprintf(&b, " fwmark %#x", r.Mark)
		} else {
			fmt.Fprintf(&b, " fwmark %#x/%#x", r.Mark, r.Mask)
		}
	}
	if r.Iif != "" {
		b.WriteString(" iif " + r.Iif)
	}
	if r.Oif != "" {
		b.WriteString(" oif " + r.Oif)
	}
	if r.IPProto != 0 {
		fmt.Fprintf(&b, " ipproto %s", protoName(r.IPProto))
	}
	if r.Dport != [2]uint16{} {
		fmt.Fprintf(&b, " dport %s", portRange(r.Dport))
	}
	if r.Sport != [2]uint16{} {
		fmt.Fprintf(&b, " sport %s", portRange(r.Sport))
	}
	if r.UID != nil {
		fmt.Fprintf(&b, " uidrange %d-%d", r.UID[0], r.UID[1])
	}
	switch r.Action {
	case actToTable:
		b.WriteString(" lookup " + TableName(r.Table))
	case actGoto:
		b.WriteString(" goto")
	case actNop:
		b.WriteString(" nop")
	case actBlackhole:
		b.WriteString(" blackhole")
	case actUnreachable:
		b.WriteString(" unreachable")
	case actProhibit:
		b.WriteString(" prohibit")
	}
	if r.SuppressPrefixlen >= 0 {
		fmt.Fprintf(&b, " suppress_prefixlength %d", r.SuppressPrefixlen)
	}
	return b.String()
}

func portRange(p [2]uint16) string {
	if p[0] == p[1] {
		return fmt.Sprint(p[0])
	}
	return fmt.Sprintf("%d-%d", p[0], p[1])
}

func protoName(p int) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	}
	return fmt.Sprint(p)
}

// TableName is a table's name as ip(8) prints it.
func TableName(t uint32) string {
	switch t {
	case tableLocal:
		return "local"
	case tableMain:
		return "main"
	case tableDefault:
		return "default"
	}
	return fmt.Sprint(t)
}

// RouteEntry is one route of a table, as a dump lists it.
type RouteEntry struct {
	Family  int
	Table   uint32
	Dst     netip.Prefix // the default route is 0.0.0.0/0 or ::/0
	Type    string       // unicast, local, unreachable, blackhole, prohibit, …
	Dev     string
	Via     netip.Addr
	Proto   string // kernel, boot, static, dhcp, ra, …
	Scope   string // universe, link, host
	Metric  uint32
	Gateway bool // the route has a gateway (Via or a multipath nexthop)
}

func (r RouteEntry) String() string {
	var b strings.Builder
	if r.Type != "unicast" && r.Type != "" {
		b.WriteString(r.Type + " ")
	}
	b.WriteString(prefixName(r.Dst))
	if r.Via.IsValid() {
		b.WriteString(" via " + r.Via.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Table != tableMain {
		b.WriteString(" table " + TableName(r.Table))
	}
	if r.Proto != "" && r.Proto != "boot" {
		b.WriteString(" proto " + r.Proto)
	}
	return b.String()
}

// prefixName is a prefix as ip(8) prints it: "default" for /0, an
// address alone for a host route.
func prefixName(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "?"
	case p.Bits() == 0:
		return "default"
	case p.Bits() == p.Addr().BitLen():
		return p.Addr().String()
	}
	return p.String()
}

// Link is a network interface.
type Link struct {
	Index int
	Name  string
	Kind  string // "wireguard", "tun", "veth", …
	MTU   int
	// WireGuard says whether the link answers as a WireGuard device
	// (kernel, or userspace with a UAPI socket), and FwMark is its fwmark.
	WireGuard bool
	FwMark    uint32
}

// NFTable is an nftables table.
type NFTable struct {
	Family string // ip, ip6, inet, …
	Name   string
	// DropHooks are the hooks ("output", "input", "forward") of its base
	// chains whose policy is drop.
	DropHooks []string
	// SetsMarks are the constant fwmarks its rules set (meta mark set N).
	SetsMarks []uint32
}

// System is what the conflicts and leaks checks read of the machine.
type System struct {
	Rules    []Rule
	Routes   []RouteEntry
	Links    []Link
	NFTables []NFTable
	// BusNames are the well-known names owned on the system bus, among
	// those that tell of a network tool: systemd-networkd, firewalld,
	// NetworkManager, systemd-resolved.
	BusNames map[string]bool
	// NetworkdForeignRules is systemd-networkd's
	// ManageForeignRoutingPolicyRules setting (true by default), and
	// NetworkdConf the file that last set it, "" for the default.
	NetworkdForeignRules bool
	NetworkdConf         string
	// ResolvConf is /etc/resolv.conf as found.
	ResolvConf ResolvConf
	// Resolved holds systemd-resolved's servers when it runs.
	Resolved *ResolvedState
	// Errors are what could not be read, each said once in the report.
	Errors []string
}

// ResolvConf is what /etc/resolv.conf says and who wrote it.
type ResolvConf struct {
	Path        string
	Symlink     string // the link's target, "" for a file
	Servers     []netip.Addr
	Writer      string // the program its header or link names, "" if none
	WrittenByUs bool   // the header is wgtray's
	Missing     bool
}

// ResolvedState is systemd-resolved's view: the servers of each link and
// which links take queries for every domain.
type ResolvedState struct {
	Global []netip.Addr
	Links  []ResolvedLink
}

// ResolvedLink is one link's DNS in systemd-resolved.
type ResolvedLink struct {
	Index        int
	Name         string
	Servers      []netip.Addr
	DefaultRoute bool // takes queries no routing domain claims
	RoutesAll    bool // has the routing domain "~."
}

// Servers returns the servers a query for an ordinary name goes to:
// those of the links with "~." if any, else the global ones and those of
// the links that are default routes. It is resolved's choice for a name
// no link claims by its domains.
func (s *ResolvedState) Servers() []netip.Addr {
	var out []netip.Addr
	for _, l := range s.Links {
		if l.RoutesAll {
			out = append(out, l.Servers...)
		}
	}
	if len(out) > 0 {
		return out
	}
	out = append(out, s.Global...)
	for _, l := range s.Links {
		if l.DefaultRoute {
			out = append(out, l.Servers...)
		}
	}
	return out
}
