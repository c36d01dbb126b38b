package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
)

// Facts reads the routing tables, rules, path MTU and sysctls the planner
// needs, and resolves the peers' endpoints.
func (l *Linux) Facts(ctx context.Context, link string, cfg *config.Config) (plan.Facts, error) {
	var f plan.Facts
	if _, err := l.nl.LinkByName(link); err == nil {
		return f, fmt.Errorf("link %q %w", link, ErrNotOurs)
	}
	var err error
	f.Endpoints = map[int]netip.AddrPort{}
	for i, p := range cfg.Peers {
		if p.Endpoint == nil {
			continue
		}
		ap, err := l.resolve(ctx, *p.Endpoint)
		if err != nil {
			return f, err
		}
		f.Endpoints[i] = ap
	}
	if cfg.FullTunnel() {
		if f.UsedTables, err = l.usedTables(); err != nil {
			return f, err
		}
		if f.RulePrefs4, err = l.rulePrefs(netlink.FAMILY_V4); err != nil {
			return f, err
		}
		switch f.RulePrefs6, err = l.rulePrefs(netlink.FAMILY_V6); {
		case noIPv6(err):
			f.NoIPv6 = true
		case err != nil:
			return f, err
		}
		if f.SrcValidMark, err = l.readSysctl("net.ipv4.conf.all.src_valid_mark"); err != nil {
			return f, err
		}
	}
	if cfg.Interface.MTU == 0 {
		f.PathMTU = l.pathMTU(f.Endpoints)
	}
	if len(cfg.Interface.DNS) > 0 {
		if f.DNS, err = l.dns.Facts(ctx); err != nil {
			return f, err
		}
	}
	return f, nil
}

// resolveTimeout bounds the resolution of one endpoint's host name
// (Linux.resolveTimeout, when set, replaces it for tests).
const resolveTimeout = 10 * time.Second

func (l *Linux) resolve(ctx context.Context, ep config.Endpoint) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(ep.Host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), ep.Port), nil
	}
	// A resolver that does not answer must not hold the Connect (and
	// every change queued behind it) for the C library's retries.
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(l.resolveTimeout, resolveTimeout))
	defer cancel()
	addrs, err := l.resolver.LookupNetIP(ctx, "ip", ep.Host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolve endpoint %q: %w", ep.Host, err)
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolve endpoint %q: no addresses", ep.Host)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), ep.Port), nil
}

func (l *Linux) usedTables() (map[uint32]bool, error) {
	routes, err := l.nl.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	used := map[uint32]bool{}
	for _, r := range routes {
		used[uint32(r.Table)] = true
	}
	return used, nil
}

// noIPv6 reports whether err is that of a kernel without IPv6 (booted
// with ipv6.disable=1), which has no AF_INET6 to ask about.
func noIPv6(err error) bool { return errors.Is(err, unix.EAFNOSUPPORT) }

func (l *Linux) rulePrefs(family int) ([]uint32, error) {
	rules, err := l.nl.RuleList(family)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	prefs := make([]uint32, 0, len(rules))
	for _, r := range rules {
		prefs = append(prefs, uint32(r.Priority))
	}
	return prefs, nil
}

// pathMTU is wg-quick's guess (set_mtu_up): the largest MTU of the routes
// towards the endpoints, else that of the IPv4 default route, 0 when
// nothing is known. The largest, not the smallest: wg-quick keeps an
// endpoint's MTU only when it is greater than the one found so far.
func (l *Linux) pathMTU(endpoints map[int]netip.AddrPort) int {
	best := 0
	consider := func(r netlink.Route) {
		m := r.MTU
		if m == 0 && r.LinkIndex > 0 {
			if link, err := l.nl.LinkByIndex(r.LinkIndex); err == nil {
				m = link.Attrs().MTU
			}
		}
		if m > best {
			best = m
		}
	}
	for _, ap := range endpoints {
		routes, err := l.nl.RouteGet(ap.Addr().AsSlice())
		if err == nil && len(routes) > 0 {
			consider(routes[0])
		}
	}
	if best == 0 {
		routes, err := l.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err == nil {
			for _, r := range routes {
				if r.Dst == nil || r.Dst.IP.IsUnspecified() {
					if ones, _ := maskOf(r.Dst); ones == 0 {
						consider(r)
						break
					}
				}
			}
		}
	}
	return best
}

func maskOf(n *net.IPNet) (int, int) {
	if n == nil {
		return 0, 32
	}
	return n.Mask.Size()
}

func (l *Linux) sysctlPath(key string) (string, error) {
	if strings.Contains(key, "/") || strings.Contains(key, "..") {
		return "", fmt.Errorf("invalid sysctl %q", key)
	}
	return filepath.Join(l.sysctlDir, strings.ReplaceAll(key, ".", "/")), nil
}

func (l *Linux) readSysctl(key string) (string, error) {
	p, err := l.sysctlPath(key)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// LinkExists reports whether an interface called name exists now.
func (l *Linux) LinkExists(name string) (bool, error) {
	_, err := l.nl.LinkByName(name)
	if isLinkNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find link %q: %w", name, err)
	}
	return true, nil
}
