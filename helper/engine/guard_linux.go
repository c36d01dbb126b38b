package engine

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/plan"
)

// Missing returns those of ops (RuleAdd, RouteAdd, BlockAdd, AddrAdd)
// whose rule, route or address is not in the kernel now. A rule is matched on every selector
// and its priority, a route on its table, destination, type and, through
// the link, its interface: what is there but differs counts as missing,
// and adding ours again next to it changes nothing of the other.
func (l *Linux) Missing(_ context.Context, ops []plan.Op) ([]plan.Op, error) {
	rules := map[int][]netlink.Rule{}
	routes := map[[2]int][]netlink.Route{} // by family and table
	var out []plan.Op
	for _, op := range ops {
		switch op.Kind {
		case plan.AddrAdd:
			link, err := l.link(op.Link)
			if err != nil {
				return nil, err
			}
			addrs, err := l.nl.AddrList(link, int(plan.FamilyOf(op.Addr.Addr())))
			if err != nil {
				return nil, fmt.Errorf("list the addresses of %q: %w", op.Link, err)
			}
			if !hasAddr(addrs, op.Addr) {
				out = append(out, op)
			}
		case plan.RuleAdd:
			fam := int(op.Rule.Family)
			if _, ok := rules[fam]; !ok {
				rs, err := l.nl.RuleList(fam)
				if err != nil {
					return nil, fmt.Errorf("list rules: %w", err)
				}
				rules[fam] = rs
			}
			if !hasRule(rules[fam], *op.Rule) {
				out = append(out, op)
			}
		case plan.RouteAdd, plan.BlockAdd:
			r := *op.Route
			fam := int(plan.FamilyOf(r.Dst.Addr()))
			key := [2]int{fam, int(r.Table)}
			if _, ok := routes[key]; !ok {
				rs, err := l.nl.RouteListFiltered(fam, &netlink.Route{Table: int(r.Table)}, netlink.RT_FILTER_TABLE)
				if err != nil {
					return nil, fmt.Errorf("list routes of table %d: %w", r.Table, err)
				}
				routes[key] = rs
			}
			index := 0
			if op.Kind == plan.RouteAdd {
				link, err := l.link(op.Link)
				if err != nil {
					return nil, err
				}
				index = link.Attrs().Index
			}
			if !hasRoute(routes[key], r.Dst, op.Kind == plan.BlockAdd, index) {
				out = append(out, op)
			}
		}
	}
	return out, nil
}

func hasRule(rs []netlink.Rule, want plan.Rule) bool {
	for _, r := range rs {
		if r.Priority == int(want.Priority) && r.Table == int(want.Table) && r.Invert == want.Invert &&
			r.Mark == want.Mark && r.SuppressPrefixlen == want.SuppressPrefixlen {
			return true
		}
	}
	return false
}

func hasRoute(rs []netlink.Route, dst netip.Prefix, unreachable bool, index int) bool {
	for _, r := range rs {
		got := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		if dst.Addr().Is4() {
			got = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			got = netip.PrefixFrom(a.Unmap(), ones)
		}
		if got != dst {
			continue
		}
		if unreachable && r.Type == unix.RTN_UNREACHABLE {
			return true
		}
		if !unreachable && r.Type == unix.RTN_UNICAST && r.LinkIndex == index {
			return true
		}
	}
	return false
}

func hasAddr(addrs []netlink.Addr, want netip.Prefix) bool {
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if netip.PrefixFrom(ip.Unmap(), ones) == want {
			return true
		}
	}
	return false
}
