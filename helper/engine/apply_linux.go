package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/firewall"
	"github.com/wgtray/wgtray/helper/plan"
)

// Apply performs one operation.
func (l *Linux) Apply(ctx context.Context, op plan.Op) error {
	switch op.Kind {
	case plan.LinkAdd:
		_, err := l.devices.Create(op.Link)
		return err
	case plan.LinkDel:
		return l.devices.Delete(op.Link)
	case plan.Configure:
		return l.devices.Configure(op.Link, op.Device.Config)
	case plan.AddrAdd:
		return l.addAddr(op.Link, op.Addr)
	case plan.LinkUp:
		return l.linkUp(op.Link, op.MTU)
	case plan.RouteAdd:
		return l.addRoute(op.Link, *op.Route)
	case plan.RuleAdd:
		if err := l.nl.RuleAdd(nlRule(*op.Rule)); err != nil {
			return fmt.Errorf("add rule %v: %w", op.Rule, err)
		}
		return nil
	case plan.RuleDel:
		if err := l.nl.RuleDel(nlRule(*op.Rule)); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete rule %v: %w", op.Rule, err)
		}
		return nil
	case plan.FWAdd:
		addrs, err := l.linkAddrs(op.Link, op.Firewall.Family)
		if err != nil {
			return err
		}
		return l.withNft(func(c *nftables.Conn) error {
			return firewall.Add(c, firewall.Spec{
				Family: fwFamily(op.Firewall.Family), Table: op.Firewall.Table,
				Interface: op.Link, Addrs: addrs, Mark: op.Firewall.Mark,
			})
		})
	case plan.FWDel:
		return l.withNft(func(c *nftables.Conn) error {
			return firewall.Delete(c, fwFamily(op.Firewall.Family), op.Firewall.Table)
		})
	case plan.SysctlSet:
		return l.writeSysctl(op.Sysctl.Key, op.Sysctl.Value)
	case plan.DNSSet:
		return l.dns.Set(ctx, op.Link, op.DNS)
	case plan.DNSRevert:
		return l.dns.Revert(ctx, op.Link, op.DNS)
	case plan.BlockAdd:
		if err := l.nl.RouteAdd(blockRoute(*op.Route)); err != nil {
			return fmt.Errorf("add unreachable route %v table %d: %w", op.Route.Dst, op.Route.Table, err)
		}
		return nil
	case plan.BlockDel:
		err := l.nl.RouteDel(blockRoute(*op.Route))
		if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete unreachable route %v table %d: %w", op.Route.Dst, op.Route.Table, err)
		}
		return nil
	case plan.Hooks:
		if op.Hooks == nil {
			return nil
		}
		return l.runHooks(ctx, op.Link, *op.Hooks)
	}
	return fmt.Errorf("unknown operation %q", string(op.Kind))
}

func (l *Linux) link(name string) (netlink.Link, error) {
	link, err := l.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find link %q: %w", name, err)
	}
	return link, nil
}

// linkAddrs lists the link's addresses of a family in the kernel's order,
// which is the order `ip addr show` prints and wg-quick reads.
func (l *Linux) linkAddrs(name string, fam plan.Family) ([]netip.Addr, error) {
	link, err := l.link(name)
	if err != nil {
		return nil, err
	}
	list, err := l.nl.AddrList(link, int(fam))
	if err != nil {
		return nil, fmt.Errorf("list addresses of %q: %w", name, err)
	}
	var out []netip.Addr
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

func (l *Linux) addAddr(name string, a netip.Prefix) error {
	link, err := l.link(name)
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}}
	if a.Addr().Is4() {
		// ip(8) sets no broadcast address unless asked; the library would
		// compute one.
		addr.Broadcast = net.IPv4zero
	}
	if err := l.nl.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add address %v to %q: %w", a, name, err)
	}
	return nil
}

func (l *Linux) linkUp(name string, mtu int) error {
	link, err := l.link(name)
	if err != nil {
		return err
	}
	if err := l.nl.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("set MTU of %q to %d: %w", name, mtu, err)
	}
	if err := l.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %q up: %w", name, err)
	}
	return nil
}

func (l *Linux) addRoute(name string, r plan.Route) error {
	link, err := l.link(name)
	if err != nil {
		return err
	}
	dst := r.Dst
	nr := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Table:     int(r.Table),
		Protocol:  unix.RTPROT_BOOT, // what ip(8) sets
		Type:      unix.RTN_UNICAST,
	}
	if dst.Addr().Is4() {
		nr.Scope = netlink.SCOPE_LINK
	}
	if err := l.nl.RouteAdd(nr); err != nil {
		return fmt.Errorf("add route %v dev %q table %d: %w", dst, name, r.Table, err)
	}
	return nil
}

// blockRoute is `ip route add unreachable DST table T`.
func blockRoute(r plan.Route) *netlink.Route {
	dst := r.Dst
	return &netlink.Route{
		Dst:      &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Table:    int(r.Table),
		Protocol: unix.RTPROT_BOOT,
		Type:     unix.RTN_UNREACHABLE,
		Family:   int(plan.FamilyOf(dst.Addr())),
	}
}

func nlRule(r plan.Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = int(r.Family)
	nr.Priority = int(r.Priority)
	nr.Table = int(r.Table)
	nr.Invert = r.Invert
	if r.Mark != 0 {
		nr.Mark = r.Mark
	}
	nr.SuppressPrefixlen = r.SuppressPrefixlen
	return nr
}

func fwFamily(f plan.Family) firewall.Family {
	if f == plan.IPv6 {
		return firewall.IPv6
	}
	return firewall.IPv4
}

func (l *Linux) withNft(fn func(*nftables.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nft == nil {
		c, err := nftables.New(nftables.AsLasting())
		if err != nil {
			return fmt.Errorf("open nftables: %w", err)
		}
		l.nft = c
	}
	return fn(l.nft)
}

func (l *Linux) writeSysctl(key, value string) error {
	p, err := l.sysctlPath(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// runHooks runs script hooks as wg-quick does: each with bash, %i replaced
// by the interface name, stopping at the first failure.
func (l *Linux) runHooks(ctx context.Context, link string, h plan.HookSet) error {
	for _, c := range h.Commands {
		c = strings.ReplaceAll(c, "%i", link)
		l.logger.Printf("%s hook of %q: %q", h.Phase, link, c)
		cmd := exec.CommandContext(ctx, "/bin/bash", "-c", c)
		out, err := cmd.CombinedOutput()
		if len(out) > 0 {
			l.logger.Printf("%s hook of %q printed: %q", h.Phase, link, out)
		}
		if err != nil {
			return fmt.Errorf("%s hook: %w", h.Phase, err)
		}
	}
	return nil
}
