package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/firewall"
	"github.com/wgtray/wgtray/helper/plan"
)

// blockState is what holds the machine's block, as this process knows
// it; the table is rewritten whole from it after every change.
type blockState struct {
	fw       *firewall.Blocker
	watch    *firewall.Watch
	live     map[string]plan.Block // tunnels that are up (ks-hold)
	kept     map[string]plan.Block // tunnels that are down and keep it (ks-keep)
	lockdown *plan.Block
	// lan are the directly connected prefixes the table was written with.
	lan []netip.Prefix
	// lanDone stops the address watch (watchLAN).
	lanDone chan struct{}
}

// SetBlockOwner chooses whether the block's table is made with
// NFT_TABLE_F_OWNER|NFT_TABLE_F_PERSIST (the default, where the kernel
// has them) or as a plain table that only the repair watch protects.
// Call it before the first change.
func (l *Linux) SetBlockOwner(owner bool) {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	l.blk.fw.Close()
	l.blk.fw = firewall.NewBlocker(owner)
}

// WatchBlock starts repairing the block's table when another program
// deletes or flushes it; repaired is told of each repair.
func (l *Linux) WatchBlock(repaired func(firewall.Repair)) error {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	if l.blk.watch != nil {
		return nil
	}
	w, err := firewall.NewWatch(l.blk.fw, repaired, func(err error) { l.logger.Print(err) })
	if err != nil {
		return err
	}
	l.blk.watch = w
	return l.watchLAN()
}

// watchLAN rewrites the table when the directly connected prefixes
// change (a new network, a DHCP lease), so that allow-lan follows the
// LAN. Address notifications drive it: no polling.
func (l *Linux) watchLAN() error {
	ch := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		ErrorCallback: func(err error) { l.logger.Printf("watch addresses for the block: %v", err) },
	}); err != nil {
		return fmt.Errorf("watch addresses for the block: %w", err)
	}
	l.blk.lanDone = done
	go func() {
		for {
			select {
			case <-done:
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				if err := l.resyncLAN(); err != nil {
					l.logger.Printf("follow the LAN in the block: %v", err)
				}
			}
		}
	}()
	return nil
}

// resyncLAN rewrites the table if the connected prefixes changed.
func (l *Linux) resyncLAN() error {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	s := &l.blk
	if len(s.live) == 0 && len(s.kept) == 0 && s.lockdown == nil {
		return nil
	}
	lan, err := l.lanPrefixes(s.holderLinks())
	if err != nil {
		return err
	}
	if slices.Equal(lan, s.lan) {
		return nil
	}
	return l.syncBlockLocked()
}

// holderLinks are the tunnel interfaces that hold the block.
func (s *blockState) holderLinks() map[string]bool {
	links := map[string]bool{}
	for l := range s.kept {
		links[l] = true
	}
	for l := range s.live {
		links[l] = true
	}
	return links
}

// BlockOwned reports whether the table is made with the owner flags.
func (l *Linux) BlockOwned() bool {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	return l.blk.fw.Owned()
}

// RemoveBlock deletes the block's table whoever held it (package
// removal, wgtray-helper --remove-block).
func (l *Linux) RemoveBlock() error {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	l.blk.live, l.blk.kept, l.blk.lockdown = map[string]plan.Block{}, map[string]plan.Block{}, nil
	return l.blk.fw.Delete()
}

// LoadLockdown puts lockdown's block in place and leaves it there (the
// early-boot unit): with the persist flag it outlives this process.
func (l *Linux) LoadLockdown(allowLAN bool) error {
	return l.applyBlock(plan.Op{Kind: plan.KSLockdown, Block: &plan.Block{AllowLAN: allowLAN}})
}

func (l *Linux) closeBlock() {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	if l.blk.watch != nil {
		l.blk.watch.Close()
		l.blk.watch = nil
	}
	if l.blk.lanDone != nil {
		close(l.blk.lanDone)
		l.blk.lanDone = nil
	}
	// The table stays: with the owner flags it becomes an orphan the next
	// helper adopts; that is what fails closed.
	l.blk.fw.Close()
}

// applyBlock performs one ks-* operation: the holders change, and the
// table is rewritten from them in one transaction.
func (l *Linux) applyBlock(op plan.Op) error {
	l.blkMu.Lock()
	defer l.blkMu.Unlock()
	s := &l.blk
	switch op.Kind {
	case plan.KSHold:
		s.live[op.Link] = *op.Block
	case plan.KSRelease:
		delete(s.live, op.Link)
	case plan.KSKeep:
		s.kept[op.Link] = *op.Block
	case plan.KSDrop:
		delete(s.kept, op.Link)
	case plan.KSLockdown:
		s.lockdown = op.Block
	default:
		return fmt.Errorf("unknown operation %q", string(op.Kind))
	}
	return l.syncBlockLocked()
}

// syncBlockLocked writes the table for the holders of the moment.
func (l *Linux) syncBlockLocked() error {
	s := &l.blk
	var b plan.Blocking
	links := map[string]bool{}
	for link, blk := range s.kept {
		if _, up := s.live[link]; !up {
			b.Tunnels = append(b.Tunnels, blk)
			links[link] = true
		}
	}
	for link, blk := range s.live {
		b.Tunnels = append(b.Tunnels, blk)
		links[link] = true
	}
	sort.Slice(b.Tunnels, func(i, j int) bool { return b.Tunnels[i].Link < b.Tunnels[j].Link })
	b.Lockdown = s.lockdown
	if b.Empty() {
		return s.fw.Delete()
	}
	lan, err := l.lanPrefixes(links)
	if err != nil {
		return err
	}
	if err := s.fw.Set(plan.BlockRules(b, plan.BlockFacts{LAN: lan})); err != nil {
		return err
	}
	s.lan = lan
	return nil
}

// lanPrefixes are the prefixes of the addresses of every interface but
// loopback and the tunnels: the directly connected networks.
func (l *Linux) lanPrefixes(tunnels map[string]bool) ([]netip.Prefix, error) {
	addrs, err := l.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := map[int]string{}
	var out []netip.Prefix
	for _, a := range addrs {
		name, ok := names[a.LinkIndex]
		if !ok {
			if link, err := l.nl.LinkByIndex(a.LinkIndex); err == nil {
				name = link.Attrs().Name
			}
			names[a.LinkIndex] = name
		}
		if name == "" || name == "lo" || tunnels[name] {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		p := netip.PrefixFrom(ip.Unmap(), ones).Masked()
		if p.Addr().IsLinkLocalUnicast() {
			continue // the link-local prefixes are allowed as a whole
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out), nil
}

// markedResolver resolves names with sockets that carry plan.ResolverMark,
// which the block lets through to port 53: the helper's own lookups of
// endpoint names work while everything else is blocked.
func markedResolver() *net.Resolver {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, plan.ResolverMark)
		}); err != nil {
			return err
		}
		return serr
	}}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return d.DialContext(ctx, network, address)
	}}
}

// ResolveEndpoints resolves the peers' endpoints of cfg, by peer index,
// as Facts does for an Up.
func (l *Linux) ResolveEndpoints(ctx context.Context, cfg *config.Config) (map[int]netip.AddrPort, error) {
	out := map[int]netip.AddrPort{}
	for i, p := range cfg.Peers {
		if p.Endpoint == nil {
			continue
		}
		ap, err := l.resolve(ctx, *p.Endpoint)
		if err != nil {
			return nil, err
		}
		out[i] = ap
	}
	return out, nil
}
