package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/firewall"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/spans"
)

// Apply performs one operation.
func (l *Linux) Apply(ctx context.Context, op plan.Op) (plan.ID, error) {
	switch op.Kind {
	case plan.LinkAdd:
		index, err := l.devices.Create(spans.With(ctx, spans.From(ctx).Sub("link-add")), op.Link)
		if errors.Is(err, os.ErrExist) {
			return plan.ID{}, fmt.Errorf("link %q %w: %w", op.Link, ErrNotOurs, err)
		}
		return plan.ID{Index: index}, err
	case plan.LinkDel:
		return plan.ID{}, l.devices.Delete(op.Link, op.ID.Index)
	case plan.FWAdd:
		return l.addFirewall(op.Link, *op.Firewall)
	case plan.FWDel:
		return plan.ID{}, l.deleteFirewall(*op.Firewall, op.ID.Handle)
	case plan.KSHold, plan.KSRelease, plan.KSKeep, plan.KSDrop, plan.KSLockdown:
		return plan.ID{}, l.applyBlock(op)
	}
	return plan.ID{}, l.apply(ctx, op)
}

// apply performs the operations that create nothing another program could
// name: what they add goes with the link, or is matched exactly on delete.
func (l *Linux) apply(ctx context.Context, op plan.Op) error {
	switch op.Kind {
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
		// Priority and every selector are given, so the kernel deletes
		// exactly the rule that was added, never another tool's.
		if err := l.nl.RuleDel(nlRule(*op.Rule)); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete rule %v: %w", op.Rule, err)
		}
		return nil
	case plan.SysctlSet:
		return l.setSysctl(*op.Sysctl)
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

// addFirewall adds a tunnel's table and returns its handle, which this
// process also remembers: a rollback whose journal lost it still deletes
// only that table.
func (l *Linux) addFirewall(link string, fw plan.Firewall) (plan.ID, error) {
	addrs, err := l.linkAddrs(link, fw.Family)
	if err != nil {
		return plan.ID{}, err
	}
	fam := fwFamily(fw.Family)
	err = l.withNft(func(c *nftables.Conn) error {
		return firewall.Add(c, firewall.Spec{Family: fam, Table: fw.Table, Interface: link, Addrs: addrs, Mark: fw.Mark})
	})
	if errors.Is(err, os.ErrExist) {
		return plan.ID{}, fmt.Errorf("nftables table %s %q %w: %w", fam, fw.Table, ErrNotOurs, err)
	}
	if err != nil {
		return plan.ID{}, err
	}
	h, err := firewall.Handle(fam, fw.Table)
	if err != nil {
		// Just made by us, as Add would have failed on another's: take
		// it away by name rather than leave a table no one can prove.
		l.withNft(func(c *nftables.Conn) error { return firewall.Delete(c, fam, fw.Table) })
		return plan.ID{}, err
	}
	l.mu.Lock()
	l.tables[tableKey(fw)] = h
	l.mu.Unlock()
	return plan.ID{Handle: h}, nil
}

// deleteFirewall deletes the table that addFirewall added: the one with
// the handle this process remembers, else the journal's. A table of that
// name with neither is someone else's and stays.
func (l *Linux) deleteFirewall(fw plan.Firewall, handle uint64) error {
	l.mu.Lock()
	if h, ok := l.tables[tableKey(fw)]; ok {
		handle = h
	}
	delete(l.tables, tableKey(fw))
	l.mu.Unlock()
	fam := fwFamily(fw.Family)
	if handle == 0 {
		l.logger.Printf("not deleting nftables table %s %q: it is not provably this tunnel's (no handle recorded)", fam, fw.Table)
		return nil
	}
	return firewall.DeleteHandle(fam, fw.Table, handle)
}

func tableKey(fw plan.Firewall) string { return fmt.Sprintf("%v %s", fw.Family, fw.Table) }

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

// setSysctl writes a sysctl; a write that expects a value is made only
// while the sysctl still holds it, so that undoing our change never
// overwrites someone else's.
func (l *Linux) setSysctl(s plan.Sysctl) error {
	if s.Expect != "" {
		cur, err := l.readSysctl(s.Key)
		if err != nil {
			return err
		}
		if cur != s.Expect {
			l.logger.Printf("leaving sysctl %s=%s: it was changed by someone else since we set %s", s.Key, cur, s.Expect)
			return nil
		}
	}
	p, err := l.sysctlPath(s.Key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(s.Value+"\n"), 0o644); err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", s.Key, s.Value, err)
	}
	return nil
}

// DefaultHookTimeout is how long one hook command may run before it is
// killed, with every process it started, and its step fails.
const DefaultHookTimeout = 30 * time.Second

// runHooks runs script hooks as wg-quick does: each with bash, %i replaced
// by the interface name, stopping at the first failure. Each runs in a
// process group of its own, killed whole when the command outlives the
// hook timeout or ctx ends, so that a hung hook can never hold the helper.
func (l *Linux) runHooks(ctx context.Context, link string, h plan.HookSet) error {
	for _, c := range h.Commands {
		c = strings.ReplaceAll(c, "%i", link)
		l.logger.Printf("%s hook of %q: %q", h.Phase, link, c)
		out, err := l.runHook(ctx, c)
		if len(out) > 0 {
			l.logger.Printf("%s hook of %q printed: %q", h.Phase, link, out)
		}
		if err != nil {
			return fmt.Errorf("%s hook: %w", h.Phase, err)
		}
	}
	return nil
}

// ErrHookTimeout is wrapped by the error of a hook that was killed because
// it ran longer than the hook timeout.
var ErrHookTimeout = errors.New("hook timed out")

func (l *Linux) runHook(ctx context.Context, command string) ([]byte, error) {
	timeout := l.hookTimeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "/bin/bash", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole group: bash's children too (`sleep 600`, a daemon
		// that kept our stdout).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild that escaped the group but holds the output pipe must
	// not hold us either.
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return out.Bytes(), fmt.Errorf("%w after %v (killed): %q", ErrHookTimeout, timeout, command)
	}
	if err != nil && ctx.Err() != nil {
		return out.Bytes(), fmt.Errorf("%q: %w", command, ctx.Err())
	}
	return out.Bytes(), err
}
