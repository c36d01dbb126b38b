// Package plan computes, without side effects, the ordered list of changes
// that bring a WireGuard tunnel up the way wg-quick(8) does. The executor in
// package engine applies the list; every operation knows its inverse so that
// a failed or finished tunnel can be undone exactly.
package plan

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Kind names an operation. The names are stored in journals, so they never
// change meaning.
type Kind string

// The operations the engine knows.
const (
	LinkAdd   Kind = "link-add"   // create the WireGuard link
	LinkDel   Kind = "link-del"   // delete it (and its addresses and routes)
	Configure Kind = "configure"  // keys, port, fwmark and peers through wgctrl
	AddrAdd   Kind = "addr-add"   // add an address to the link
	LinkUp    Kind = "link-up"    // set the MTU and bring the link up
	RouteAdd  Kind = "route-add"  // add a route through the link
	RuleAdd   Kind = "rule-add"   // add a policy routing rule
	RuleDel   Kind = "rule-del"   // delete exactly that rule
	FWAdd     Kind = "fw-add"     // add the tunnel's nftables table
	FWDel     Kind = "fw-del"     // delete it
	SysctlSet Kind = "sysctl-set" // write a sysctl
	Hooks     Kind = "hooks"      // run script hooks (only with --allow-scripts)
	DNSSet    Kind = "dns-set"    // give the tunnel's DNS to the DNS manager
	DNSRevert Kind = "dns-revert" // take it back
	BlockAdd  Kind = "block-add"  // add an unreachable route (the leak guard)
	BlockDel  Kind = "block-del"  // delete it
)

// Journal markers: records of the engine's journal that are not
// operations but say what became of the operation before them, so that a
// later helper undoes exactly what this one made.
const (
	// Owned gives the kernel identity (ID) of what the previous record's
	// operation created, once it has: the inverse deletes that object and
	// no other of the same name.
	Owned Kind = "owned"
	// NotApplied says the previous record's operation failed without
	// making its change: an object of that name that exists belongs to
	// someone else, and the inverse must not run.
	NotApplied Kind = "not-applied"
	// Completed says every operation of the Up was applied: only then
	// does a later cleanup run the tunnel's PreDown and PostDown hooks, as
	// wg-quick runs them only on the way down of a tunnel that came up.
	Completed Kind = "completed"
)

// ID is the kernel's identity of an object the engine created, recorded so
// that the object is deleted only while it is provably ours: a link of the
// same name made by someone else after ours went away has another
// ifindex, a table of the same name another handle.
type ID struct {
	Index  int    `json:"index,omitempty"`  // a link's ifindex
	Handle uint64 `json:"handle,omitempty"` // an nftables table's handle
}

// IsZero reports whether id identifies nothing.
func (id ID) IsZero() bool { return id == ID{} }

// Family is an address family.
type Family int

// Address families, valued as in the kernel.
const (
	IPv4 Family = 2
	IPv6 Family = 10
)

func (f Family) String() string {
	if f == IPv6 {
		return "-6"
	}
	return "-4"
}

// Name is "IPv4" or "IPv6".
func (f Family) Name() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// FamilyOf returns the family of a.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// MainTable is the kernel's main routing table.
const MainTable = 254

// Route is a route through the tunnel's link.
type Route struct {
	Dst   netip.Prefix `json:"dst"`
	Table uint32       `json:"table"`
}

// Rule is a policy routing rule. Priority is always explicit: the planner
// computes the one the kernel would pick, so that deleting the rule later
// deletes that rule and never an identical one that another tool added.
type Rule struct {
	Family            Family `json:"family"`
	Priority          uint32 `json:"priority"`
	Table             uint32 `json:"table"`
	Mark              uint32 `json:"mark,omitempty"`
	Invert            bool   `json:"invert,omitempty"`
	SuppressPrefixlen int    `json:"suppressPrefixlen"` // -1 when unset
}

func (r Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v pref %d", r.Family, r.Priority)
	if r.Invert {
		b.WriteString(" not")
	}
	if r.Mark != 0 {
		fmt.Fprintf(&b, " fwmark %#x", r.Mark)
	}
	table := fmt.Sprint(r.Table)
	if r.Table == MainTable {
		table = "main"
	}
	fmt.Fprintf(&b, " lookup %s", table)
	if r.SuppressPrefixlen >= 0 {
		fmt.Fprintf(&b, " suppress_prefixlength %d", r.SuppressPrefixlen)
	}
	return b.String()
}

// Firewall is one nftables table of wg-quick's full-tunnel rules. Like
// wg-quick, the executor protects every address the link has of the family
// when the table is added — the configured ones and the IPv6 link-local
// address the kernel gives the link when it comes up — so they are read
// then, not planned.
type Firewall struct {
	Family Family `json:"family"`
	Table  string `json:"table"`
	Mark   uint32 `json:"mark,omitempty"`
}

// Sysctl is a write of Value to the sysctl Key (dotted, as sysctl(8) names
// it). Old is the value it replaces, so that the write can be undone.
type Sysctl struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Old   string `json:"old"`
	// Expect, when set, makes the write conditional: it is made only while
	// the sysctl still holds Expect. An inverse expects the value its
	// operation wrote, so that a value someone else set since is kept.
	Expect string `json:"expect,omitempty"`
}

// HookSet is a list of shell commands run with bash, %i replaced by the
// interface name.
type HookSet struct {
	Phase    string   `json:"phase"` // PreUp, PostUp, PreDown or PostDown
	Commands []string `json:"commands"`
}

// Op is one step. Only the fields its Kind needs are set. Device holds key
// material and is therefore never serialized: journals only ever store
// inverses, and no inverse needs keys.
type Op struct {
	Kind     Kind         `json:"kind"`
	Link     string       `json:"link"`
	Addr     netip.Prefix `json:"addr,omitzero"`
	MTU      int          `json:"mtu,omitempty"`
	Route    *Route       `json:"route,omitempty"`
	Rule     *Rule        `json:"rule,omitempty"`
	Firewall *Firewall    `json:"firewall,omitempty"`
	Sysctl   *Sysctl      `json:"sysctl,omitempty"`
	Hooks    *HookSet     `json:"hooks,omitempty"`
	DNS      *DNS         `json:"dns,omitempty"`
	// Block is the kill switch's block of the ks-* operations.
	Block  *Block  `json:"block,omitempty"`
	Device *Device `json:"-"`
	// Undo is the inverse's hook set for Hooks operations whose inverse
	// runs other hooks (PostUp is undone by PreDown).
	Undo *HookSet `json:"undo,omitempty"`
	// ID is what a LinkDel or FWDel deletes: the object its LinkAdd or
	// FWAdd created. Zero when the creation was not seen to succeed.
	ID ID `json:"id,omitzero"`
}

// Device is the WireGuard configuration applied by a Configure operation.
type Device struct {
	Config wgtypes.Config
}

// Inverse returns the operation that undoes o, and false when o needs no
// inverse of its own because deleting the link undoes it (addresses, routes
// through the link, MTU, device configuration).
func (o Op) Inverse() (Op, bool) {
	switch o.Kind {
	case LinkAdd:
		return Op{Kind: LinkDel, Link: o.Link}, true
	case RuleAdd:
		r := *o.Rule
		return Op{Kind: RuleDel, Link: o.Link, Rule: &r}, true
	case FWAdd:
		fw := *o.Firewall
		return Op{Kind: FWDel, Link: o.Link, Firewall: &fw}, true
	case SysctlSet:
		s := *o.Sysctl
		return Op{Kind: SysctlSet, Link: o.Link, Sysctl: &Sysctl{Key: s.Key, Value: s.Old, Old: s.Value, Expect: s.Value}}, true
	case DNSSet:
		d := *o.DNS
		return Op{Kind: DNSRevert, Link: o.Link, DNS: &d}, true
	case BlockAdd:
		r := *o.Route
		return Op{Kind: BlockDel, Link: o.Link, Route: &r}, true
	case KSHold:
		b := *o.Block
		return Op{Kind: KSRelease, Link: o.Link, Block: &b}, true
	case Hooks:
		if o.Undo == nil || len(o.Undo.Commands) == 0 {
			return Op{}, false
		}
		h := *o.Undo
		return Op{Kind: Hooks, Link: o.Link, Hooks: &h}, true
	}
	return Op{}, false
}

// String describes o in one line without any key material, in the manner
// of the ip(8), wg(8) and nft(8) commands that would do the same.
func (o Op) String() string {
	switch o.Kind {
	case LinkAdd:
		return fmt.Sprintf("link add %s type wireguard", o.Link)
	case LinkDel:
		return fmt.Sprintf("link del %s", o.Link)
	case Configure:
		return "configure " + o.Link + " " + describeDevice(o.Device)
	case AddrAdd:
		return fmt.Sprintf("addr add %v %v dev %s", FamilyOf(o.Addr.Addr()), o.Addr, o.Link)
	case LinkUp:
		return fmt.Sprintf("link set %s mtu %d up", o.Link, o.MTU)
	case RouteAdd:
		return fmt.Sprintf("route add %v %v dev %s table %s", FamilyOf(o.Route.Dst.Addr()), o.Route.Dst, o.Link, tableName(o.Route.Table))
	case RuleAdd:
		return "rule add " + o.Rule.String()
	case RuleDel:
		return "rule del " + o.Rule.String()
	case FWAdd:
		fw := o.Firewall
		return fmt.Sprintf("nft add table %s %s (iif %s, daddr the link's %s addresses, mark %#x)", nftFamily(fw.Family), fw.Table, o.Link, nftFamily(fw.Family), fw.Mark)
	case FWDel:
		return fmt.Sprintf("nft delete table %s %s", nftFamily(o.Firewall.Family), o.Firewall.Table)
	case DNSSet:
		return "dns set " + o.Link + " " + o.DNS.String()
	case DNSRevert:
		return "dns revert " + o.Link + " " + o.DNS.String()
	case BlockAdd:
		return fmt.Sprintf("route add %v unreachable %v table %s", FamilyOf(o.Route.Dst.Addr()), o.Route.Dst, tableName(o.Route.Table))
	case BlockDel:
		return fmt.Sprintf("route del %v unreachable %v table %s", FamilyOf(o.Route.Dst.Addr()), o.Route.Dst, tableName(o.Route.Table))
	case KSHold:
		return "kill switch hold: " + o.Block.String()
	case KSRelease:
		return "kill switch release " + o.Link + " (kept after a crash)"
	case KSKeep:
		return "kill switch keep: " + o.Block.String()
	case KSDrop:
		return "kill switch drop " + o.Link
	case KSLockdown:
		if o.Block == nil {
			return "lockdown off"
		}
		return "lockdown on: " + o.Block.String()
	case KSReleased:
		return "kill switch released " + o.Link
	case SysctlSet:
		s := fmt.Sprintf("sysctl %s=%s (was %s)", o.Sysctl.Key, o.Sysctl.Value, o.Sysctl.Old)
		if o.Sysctl.Expect != "" {
			s += fmt.Sprintf(" if still %s", o.Sysctl.Expect)
		}
		return s
	case Hooks:
		s := "hooks: none"
		if o.Hooks != nil {
			s = fmt.Sprintf("hooks %s: %d command(s)", o.Hooks.Phase, len(o.Hooks.Commands))
		}
		if o.Undo != nil {
			s += fmt.Sprintf(", undone by %s: %d command(s)", o.Undo.Phase, len(o.Undo.Commands))
		}
		return s
	}
	return fmt.Sprintf("unknown op %q", string(o.Kind))
}

func tableName(t uint32) string {
	if t == MainTable {
		return "main"
	}
	return fmt.Sprint(t)
}

func nftFamily(f Family) string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

func describeDevice(d *Device) string {
	if d == nil {
		return "(nothing)"
	}
	c := d.Config
	var parts []string
	if c.PrivateKey != nil {
		parts = append(parts, "private-key (hidden)")
	}
	if c.ListenPort != nil {
		parts = append(parts, fmt.Sprintf("listen-port %d", *c.ListenPort))
	}
	if c.FirewallMark != nil {
		parts = append(parts, fmt.Sprintf("fwmark %#x", *c.FirewallMark))
	}
	for _, p := range c.Peers {
		s := "peer " + p.PublicKey.String()
		if p.PresharedKey != nil {
			s += " preshared-key (hidden)"
		}
		if p.Endpoint != nil {
			s += " endpoint " + p.Endpoint.String()
		}
		if p.PersistentKeepaliveInterval != nil && *p.PersistentKeepaliveInterval != 0 {
			s += fmt.Sprintf(" persistent-keepalive %d", int(p.PersistentKeepaliveInterval.Seconds()))
		}
		var ips []string
		for _, n := range p.AllowedIPs {
			ips = append(ips, n.String())
		}
		s += " allowed-ips " + strings.Join(ips, ",")
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
