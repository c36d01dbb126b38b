package plan

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/ipc"
)

// FirstTable is where wg-quick starts its search for a free routing table,
// and the fwmark it then uses.
const FirstTable = 51820

// ErrScriptsDisabled is returned for a config with script hooks when the
// helper was not started with --allow-scripts.
var ErrScriptsDisabled = errors.New("the config has PreUp/PostUp/PreDown/PostDown script hooks, " +
	"which run only when root starts wgtray-helper with --allow-scripts")

// Options are the helper's policy decisions, as opposed to facts.
type Options struct {
	// AllowScripts permits PreUp, PostUp, PreDown and PostDown.
	AllowScripts bool
	// FirewallTable names the nftables table of a tunnel.
	FirewallTable func(link string) string
	// NoLeakGuard turns off the leak guard: a full tunnel of one family
	// then leaves the other family's traffic outside the tunnel, as
	// wg-quick does.
	NoLeakGuard bool
	// KillSwitch gives a full tunnel the block (see BlockRules) from its
	// first step on: everything that does not go through the tunnel is
	// rejected, and a crash keeps it so. No effect on a split tunnel.
	KillSwitch bool
	// AllowLAN lets the kill switch pass the local network.
	AllowLAN bool
}

// DefaultFirewallTable names a tunnel's nftables table after the product
// and the tunnel, where wg-quick uses "wg-quick-NAME".
func DefaultFirewallTable(link string) string { return "wgtray-" + link }

// Plan is an ordered list of operations bringing one tunnel up.
type Plan struct {
	Link string
	Ops  []Op
	// Table is the routing table and fwmark of a full tunnel, 0 otherwise.
	Table uint32
	// FullTunnel is set when some AllowedIPs is a /0 with Table auto.
	FullTunnel bool
	// Blocked lists the families the leak guard makes unreachable: the
	// one a full tunnel of the other family does not carry.
	Blocked []Family
	// DNS is the tunnel's DNS, nil when the config has no DNS server.
	DNS *DNS
	// Unguarded says why the leak guard guards a family the tunnel does
	// not carry by nothing, when it does not ("" otherwise).
	Unguarded string
	// Block is the tunnel's kill switch, nil without one.
	Block *Block
}

// NoIPv6Reason is Plan.Unguarded on a kernel without IPv6.
const NoIPv6Reason = "IPv6 is disabled in this kernel (ipv6.disable=1): no IPv6 traffic can leave the machine"

// Build plans bringing cfg up as link, given facts about the machine. It
// has no side effects and needs no privileges.
func Build(link string, cfg *config.Config, facts Facts, opts Options) (*Plan, error) {
	if err := ipc.ValidName(link); err != nil {
		return nil, err
	}
	if cfg.HasScripts() && !opts.AllowScripts {
		return nil, ErrScriptsDisabled
	}
	if opts.FirewallTable == nil {
		opts.FirewallTable = DefaultFirewallTable
	}
	p := &Plan{Link: link}
	in := cfg.Interface
	add := func(op Op) {
		op.Link = link
		p.Ops = append(p.Ops, op)
	}

	// PostDown undoes the first step so that it runs last on the way down,
	// after the link is gone, as in wg-quick. PreUp runs before the link
	// exists, as wg-quick's cmd_up runs it before add_if.
	if len(in.PostDown) > 0 || len(in.PreUp) > 0 {
		op := Op{Kind: Hooks}
		if len(in.PreUp) > 0 {
			op.Hooks = &HookSet{Phase: "PreUp", Commands: in.PreUp}
		}
		if len(in.PostDown) > 0 {
			op.Undo = &HookSet{Phase: "PostDown", Commands: in.PostDown}
		}
		add(op)
	}
	add(Op{Kind: LinkAdd})

	prefixes := allowedPrefixes(cfg)
	full := map[Family]bool{}
	for _, pfx := range prefixes {
		if pfx.Bits() == 0 && in.Table.Mode == config.TableAuto {
			full[FamilyOf(pfx.Addr())] = true
		}
	}
	table := uint32(0)
	if len(full) > 0 {
		p.FullTunnel = true
		if in.FwMark != nil && *in.FwMark != 0 {
			table = *in.FwMark
		} else {
			table = FirstTable
			for facts.UsedTables[table] {
				table++
			}
		}
		p.Table = table
	}

	dev, err := deviceConfig(cfg, facts, table)
	if err != nil {
		return nil, err
	}
	if p.FullTunnel && opts.KillSwitch {
		// Before the link exists: nothing leaks while the tunnel comes
		// up, and the block's DNS rule needs the servers only.
		var servers *DNS
		if len(in.DNS) > 0 {
			servers = &DNS{Servers: in.DNS}
		}
		p.Block = planBlock(link, table, len(cfg.Peers), facts, servers, opts.AllowLAN, cfg.Interface.Addresses)
		// Inserted before the link: the hooks op (PreUp), if any, stays first.
		blk := Op{Kind: KSHold, Link: link, Block: p.Block}
		at := len(p.Ops) - 1 // the LinkAdd
		p.Ops = slices.Insert(p.Ops, at, blk)
	}
	add(Op{Kind: Configure, Device: dev})
	for _, a := range in.Addresses {
		add(Op{Kind: AddrAdd, Addr: a})
	}
	add(Op{Kind: LinkUp, MTU: mtu(in.MTU, facts.PathMTU)})
	// DNS comes before the routes, as in wg-quick.
	if p.DNS, err = planDNS(link, cfg, facts.DNS, p.FullTunnel); err != nil {
		return nil, err
	}
	if p.DNS != nil {
		add(Op{Kind: DNSSet, DNS: p.DNS})
	}

	prefs := map[Family]*[]uint32{IPv4: clonePrefs(facts.RulePrefs4), IPv6: clonePrefs(facts.RulePrefs6)}
	// policy sends a whole family through the table with wg-quick's rules,
	// sysctl and firewall; route is the table's default route.
	policy := func(fam Family, route Op) {
		add(Op{Kind: RuleAdd, Rule: &Rule{Family: fam, Priority: nextRulePref(prefs[fam]), Table: table, Mark: table, Invert: true, SuppressPrefixlen: -1}})
		add(Op{Kind: RuleAdd, Rule: &Rule{Family: fam, Priority: nextRulePref(prefs[fam]), Table: MainTable, SuppressPrefixlen: 0}})
		add(route)
		if fam == IPv4 && facts.SrcValidMark != "1" {
			add(Op{Kind: SysctlSet, Sysctl: &Sysctl{Key: "net.ipv4.conf.all.src_valid_mark", Value: "1", Old: facts.SrcValidMark}})
		}
		add(Op{Kind: FWAdd, Firewall: &Firewall{Family: fam, Table: opts.FirewallTable(link), Mark: table}})
	}
	onLink := addressRoutes(in.Addresses)
	for _, pfx := range prefixes {
		fam := FamilyOf(pfx.Addr())
		switch {
		case in.Table.Mode == config.TableOff:
		case in.Table.Mode == config.TableNumber:
			add(Op{Kind: RouteAdd, Route: &Route{Dst: pfx, Table: in.Table.Number}})
		case pfx.Bits() == 0:
			policy(fam, Op{Kind: RouteAdd, Route: &Route{Dst: pfx, Table: table}})
		default:
			// wg-quick skips a prefix already covered by a route on the
			// link, such as the one the kernel made for an Address.
			if covered(onLink, pfx) {
				continue
			}
			onLink = append(onLink, pfx)
			add(Op{Kind: RouteAdd, Route: &Route{Dst: pfx, Table: MainTable}})
		}
	}

	// The leak guard: a full tunnel of one family would let the other
	// family's traffic go around it. The same rules with an unreachable
	// default route make that family fail closed instead.
	if p.FullTunnel && !opts.NoLeakGuard {
		for _, fam := range []Family{IPv6, IPv4} {
			if full[fam] {
				continue
			}
			if fam == IPv6 && facts.NoIPv6 {
				// As wg-quick on such a kernel: no IPv6 rules, route or
				// nftables table, none of which it could add.
				p.Unguarded = NoIPv6Reason
				continue
			}
			p.Blocked = append(p.Blocked, fam)
			policy(fam, Op{Kind: BlockAdd, Route: &Route{Dst: netip.PrefixFrom(zeroAddr(fam), 0), Table: table}})
		}
	}

	if len(in.PostUp) > 0 || len(in.PreDown) > 0 {
		op := Op{Kind: Hooks, Hooks: &HookSet{Phase: "PostUp", Commands: in.PostUp}}
		if len(in.PreDown) > 0 {
			op.Undo = &HookSet{Phase: "PreDown", Commands: in.PreDown}
		}
		add(op)
	}
	return p, nil
}

// allowedPrefixes returns every peer's AllowedIPs once, longest prefixes
// first, in the order wg-quick adds their routes.
func allowedPrefixes(cfg *config.Config) []netip.Prefix {
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, peer := range cfg.Peers {
		for _, p := range peer.AllowedIPs {
			p = p.Masked()
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	// wg-quick's `sort -nr -k 2 -t /` in the C locale: longest first,
	// ties in reverse byte order of the whole text. The order shows in the
	// order of the nftables tables (IPv6's first in a dual-stack tunnel).
	slices.SortStableFunc(out, func(a, b netip.Prefix) int {
		if c := cmp.Compare(b.Bits(), a.Bits()); c != 0 {
			return c
		}
		return strings.Compare(b.String(), a.String())
	})
	return out
}

// addressRoutes returns the prefix routes the kernel adds for addresses
// once the link is up.
func addressRoutes(addrs []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Bits() < a.Addr().BitLen() {
			out = append(out, a.Masked())
		}
	}
	return out
}

// covered is `ip route show dev LINK match PFX` being non-empty: some route
// contains the whole prefix.
func covered(routes []netip.Prefix, pfx netip.Prefix) bool {
	for _, r := range routes {
		if r.Addr().BitLen() == pfx.Addr().BitLen() && r.Bits() <= pfx.Bits() && r.Contains(pfx.Addr()) {
			return true
		}
	}
	return false
}

func zeroAddr(f Family) netip.Addr {
	if f == IPv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func clonePrefs(p []uint32) *[]uint32 {
	c := slices.Clone(p)
	slices.Sort(c)
	return &c
}

// mtu is wg-quick's choice: the config's MTU, else the path MTU less the
// 80 bytes of WireGuard's IPv6 overhead, else 1500-80.
func mtu(configured, path int) int {
	if configured > 0 {
		return configured
	}
	if path <= 0 {
		path = 1500
	}
	return path - 80
}

func deviceConfig(cfg *config.Config, facts Facts, fwmark uint32) (*Device, error) {
	in := cfg.Interface
	key := in.PrivateKey
	c := wgtypes.Config{PrivateKey: &key, ListenPort: in.ListenPort, ReplacePeers: true}
	switch {
	case fwmark != 0:
		m := int(fwmark)
		c.FirewallMark = &m
	case in.FwMark != nil:
		m := int(*in.FwMark)
		c.FirewallMark = &m
	}
	for i, peer := range cfg.Peers {
		pc := wgtypes.PeerConfig{PublicKey: peer.PublicKey, PresharedKey: peer.PresharedKey, ReplaceAllowedIPs: true}
		if peer.PersistentKeepalive > 0 {
			d := time.Duration(peer.PersistentKeepalive) * time.Second
			pc.PersistentKeepaliveInterval = &d
		}
		if peer.Endpoint != nil {
			ap, ok := facts.Endpoints[i]
			if !ok || !ap.IsValid() {
				return nil, fmt.Errorf("peer on line %d: endpoint %q was not resolved", peer.Line, peer.Endpoint.Host)
			}
			pc.Endpoint = net.UDPAddrFromAddrPort(ap)
		}
		for _, p := range peer.AllowedIPs {
			pc.AllowedIPs = append(pc.AllowedIPs, prefixToIPNet(p.Masked()))
		}
		c.Peers = append(c.Peers, pc)
	}
	return &Device{Config: c}, nil
}

func prefixToIPNet(p netip.Prefix) net.IPNet {
	return net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
