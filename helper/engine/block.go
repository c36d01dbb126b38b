package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/atomicfile"
	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/journal"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/ipc"
)

// The kill switch, on the engine's side. A tunnel with the kill switch
// holds the block from the first step of its Up (ks-hold, journaled like
// every step). Its inverse, ks-release, is the one a crash cleanup keeps:
// instead of running it, cleanup writes the block to NAME.block beside the
// journals, and the next helper adopts it (ks-keep). A tunnel's block goes
// only with an explicit Disconnect, the option turned off, or Unblock.
// Shutdown (SIGTERM, an upgrade), a vanished link and a full tunnel that
// replaces another keep it the same way, through DownKeep.

// TunnelOptions says, for a tunnel about to come up, whether it gets the
// kill switch and with allow-lan; see SetTunnelOptions.
type TunnelOptions func(link string, cfg *config.Config) (killSwitch, allowLAN bool)

// SetTunnelOptions makes every Up ask f for the tunnel's kill-switch
// settings; without it, no tunnel gets the kill switch (wg-quick's
// behaviour, which the parity tests compare with). Call it before the
// first Up.
func (e *Engine) SetTunnelOptions(f TunnelOptions) { e.tunnelOpts = f }

// keptSuffix ends the file of a kept block: NAME.block.
const keptSuffix = ".block"

func (e *Engine) keptPath(link string) string { return filepath.Join(e.stateDir, link+keptSuffix) }

// writeKept records that link's block stays after its journal goes.
func (e *Engine) writeKept(link string, b plan.Block) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(e.keptPath(link), data, 0o600, os.Getuid(), os.Getgid())
}

// keptBlocks reads every NAME.block file.
func (e *Engine) keptBlocks() (map[string]plan.Block, error) {
	ents, err := os.ReadDir(e.stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list kept blocks: %w", err)
	}
	out := map[string]plan.Block{}
	var errs []error
	for _, ent := range ents {
		link, ok := strings.CutSuffix(ent.Name(), keptSuffix)
		if !ok || !ent.Type().IsRegular() || ipc.ValidName(link) != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(e.stateDir, ent.Name()))
		var b plan.Block
		if err == nil {
			err = json.Unmarshal(data, &b)
		}
		if err == nil && b.Link != link {
			err = fmt.Errorf("block of %q in the file of %q", b.Link, link)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("kept block %s: %w", ent.Name(), err))
			continue
		}
		out[link] = b
	}
	return out, errors.Join(errs...)
}

// splitKept separates the ks-release inverses, which cleanup keeps, from
// the rest. The last one wins: a tunnel re-holds its block when its
// allow-lan changes.
func splitKept(ops []plan.Op) (kept *plan.Block, rest []plan.Op) {
	for _, op := range ops {
		if op.Kind == plan.KSRelease && op.Block != nil {
			b := *op.Block
			kept = &b
			continue
		}
		rest = append(rest, op)
	}
	return kept, rest
}

// AdoptBlocks takes over the blocks that earlier helpers kept (their
// NAME.block files): the block's table holds them again under this
// process. The helper calls it at start, after Cleanup, between setting
// lockdown (if on) and setting it again, which makes the table match what
// this helper holds: a table no one holds any more goes then.
func (e *Engine) AdoptBlocks(ctx context.Context) error {
	kept, err := e.keptBlocks()
	e.mu.Lock()
	e.serving = true
	e.mu.Unlock()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	links := make([]string, 0, len(kept))
	for l := range kept {
		links = append(links, l)
	}
	slices.Sort(links)
	for _, l := range links {
		b := kept[l]
		if _, err := e.sys.Apply(ctx, plan.Op{Kind: plan.KSKeep, Link: l, Block: &b}); err != nil {
			errs = append(errs, fmt.Errorf("adopt the kill switch of %q: %w", l, err))
			continue
		}
		e.mu.Lock()
		e.kept[l] = b
		e.mu.Unlock()
		e.logger.Printf("tunnel %q: its kill switch is kept from an earlier run: traffic outside the tunnel stays blocked until it reconnects or is disconnected", l)
	}
	return errors.Join(errs...)
}

// keep turns link's block into a kept one: written to disk first, then
// held as kept, so that no moment has it held by nothing.
func (e *Engine) keep(ctx context.Context, link string, b plan.Block) error {
	if err := e.writeKept(link, b); err != nil {
		return fmt.Errorf("keep the kill switch of %q: %w", link, err)
	}
	if _, err := e.sys.Apply(ctx, plan.Op{Kind: plan.KSKeep, Link: link, Block: &b}); err != nil {
		return fmt.Errorf("keep the kill switch of %q: %w", link, err)
	}
	e.mu.Lock()
	e.kept[link] = b
	e.mu.Unlock()
	return nil
}

// Unblock removes the block that link keeps while it is down (after a
// crash, a restart, a failed connect). Nothing kept is not an error.
func (e *Engine) Unblock(ctx context.Context, link string) error {
	e.mu.Lock()
	_, held := e.kept[link]
	e.mu.Unlock()
	if !held && !fileExists(e.keptPath(link)) {
		return nil
	}
	if _, err := e.sys.Apply(ctx, plan.Op{Kind: plan.KSDrop, Link: link}); err != nil {
		return fmt.Errorf("remove the kill switch of %q: %w", link, err)
	}
	e.mu.Lock()
	delete(e.kept, link)
	e.mu.Unlock()
	if err := atomicfile.Remove(e.keptPath(link)); err != nil {
		return err
	}
	e.logger.Printf("tunnel %q: kill switch removed", link)
	return nil
}

// DownKeep takes link down as Down does, but keeps its block: for the
// helper stopping, the link vanishing, another full tunnel taking over.
func (e *Engine) DownKeep(ctx context.Context, link, why string) error {
	e.mu.Lock()
	t := e.tunnels[link]
	var b *plan.Block
	if t != nil && t.phase == Up {
		for _, op := range t.undo {
			if op.Kind == plan.KSRelease && op.Block != nil {
				c := *op.Block
				b = &c
			}
		}
	}
	e.mu.Unlock()
	if b != nil {
		if err := e.keep(ctx, link, *b); err != nil {
			// Better down and unblocked than up: go on with the Down.
			e.logger.Print(err)
		}
	}
	return e.DownBecause(ctx, link, why)
}

// SetKillSwitch makes a tunnel that is up hold the block (on) with
// allow-lan as given, or release it; for a tunnel that is down, off
// removes a kept block and on waits for its next Up.
func (e *Engine) SetKillSwitch(ctx context.Context, link string, on, allowLAN bool) error {
	e.mu.Lock()
	t := e.tunnels[link]
	up := t != nil && t.phase == Up
	var p *plan.Plan
	var j *journal.Journal
	if up {
		p, j = t.plan, t.journal
	}
	e.mu.Unlock()
	if !up {
		if !on {
			return e.Unblock(ctx, link)
		}
		e.mu.Lock()
		b, kept := e.kept[link]
		e.mu.Unlock()
		if kept && b.AllowLAN != allowLAN {
			// A kept block follows its allow-lan too.
			b.AllowLAN = allowLAN
			return e.keep(ctx, link, b)
		}
		return nil
	}
	if !p.FullTunnel {
		return nil
	}
	if on {
		b := blockOfPlan(p)
		b.AllowLAN = allowLAN
		if err := e.holdBlock(ctx, t, j, link, b); err != nil {
			return err
		}
		return e.Unblock(ctx, link)
	}
	// The marker first: a crash from here on must not keep what the user
	// turned off.
	if err := j.Append(plan.Op{Kind: plan.KSReleased, Link: link}); err != nil {
		return err
	}
	if _, err := e.sys.Apply(ctx, plan.Op{Kind: plan.KSRelease, Link: link}); err != nil {
		return err
	}
	e.mu.Lock()
	t.undo = withoutKind(t.undo, plan.KSRelease)
	t.plan.Block = nil
	e.mu.Unlock()
	return e.Unblock(ctx, link)
}

// blockOfPlan is the block of a plan that is up, whether or not it held
// one: its tunnel, fwmark, endpoints (from the device it configured) and
// DNS servers.
func blockOfPlan(p *plan.Plan) plan.Block {
	if p.Block != nil {
		return *p.Block
	}
	b := plan.Block{Link: p.Link, Mark: p.Table}
	var addrs []netip.Prefix
	for _, op := range p.Ops {
		if op.Kind == plan.AddrAdd {
			addrs = append(addrs, op.Addr)
		}
		if op.Kind == plan.Configure && op.Device != nil {
			for _, peer := range op.Device.Config.Peers {
				if peer.Endpoint != nil {
					if ap := peer.Endpoint.AddrPort(); ap.IsValid() {
						b.Endpoints = append(b.Endpoints, netipUnmap(ap))
					}
				}
			}
		}
	}
	b.Endpoints = plan.SortEndpoints(b.Endpoints)
	b.Sources = plan.BlockSources(addrs)
	if p.DNS != nil {
		b.DNS = slices.Clone(p.DNS.Servers)
	}
	return b
}

func netipUnmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func withoutKind(ops []plan.Op, k plan.Kind) []plan.Op {
	var out []plan.Op
	for _, op := range ops {
		if op.Kind != k {
			out = append(out, op)
		}
	}
	return out
}

// SetLockdown holds lockdown's block (on), with allow-lan, or stops
// holding it; tunnels' blocks are not touched.
func (e *Engine) SetLockdown(ctx context.Context, on, allowLAN bool) error {
	op := plan.Op{Kind: plan.KSLockdown}
	if on {
		op.Block = &plan.Block{AllowLAN: allowLAN}
	}
	if _, err := e.sys.Apply(ctx, op); err != nil {
		return fmt.Errorf("lockdown: %w", err)
	}
	e.mu.Lock()
	e.lockdown = on
	e.mu.Unlock()
	return nil
}

// Blocking reports whether anything holds the block: lockdown, a tunnel
// that is up with the kill switch, or a kept one.
func (e *Engine) Blocking() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lockdown || len(e.kept) > 0 {
		return true
	}
	for _, t := range e.tunnels {
		if t.blocking() {
			return true
		}
	}
	return false
}

// blocking reports whether t holds its block now: connecting past its
// ks-hold, or up with the kill switch.
func (t *entry) blocking() bool {
	if t.phase == Down {
		return false
	}
	if t.plan != nil {
		return t.plan.Block != nil
	}
	return t.holding
}

// TunnelBlocking reports whether link holds the block, up or kept.
func (e *Engine) TunnelBlocking(link string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.kept[link]; ok {
		return true
	}
	t := e.tunnels[link]
	return t != nil && t.blocking()
}

// FollowEndpoints resolves the endpoints of tunnel link's config again
// (names through the helper's own resolver, whose queries the block lets
// through) and moves the tunnel to those that changed. With the kill
// switch, the block lets the old and new endpoints through while the
// device switches, then only the new: the tunnel's UDP is never blocked
// and nothing else is let out. It reports whether anything changed.
func (e *Engine) FollowEndpoints(ctx context.Context, link string, cfg *config.Config) (bool, error) {
	e.mu.Lock()
	t := e.tunnels[link]
	up := t != nil && t.phase == Up
	var p *plan.Plan
	var j *journal.Journal
	if up {
		p, j = t.plan, t.journal
	}
	e.mu.Unlock()
	if !up {
		return false, fmt.Errorf("follow endpoints of %q: %w", link, ErrNotUp)
	}
	r, ok := e.sys.(EndpointResolver)
	if !ok {
		return false, fmt.Errorf("follow endpoints of %q: this system cannot resolve endpoints", link)
	}
	eps, err := r.ResolveEndpoints(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("follow endpoints of %q: %w", link, err)
	}
	var peers []wgtypes.PeerConfig
	var now []netip.AddrPort
	for i, peer := range cfg.Peers {
		ap, ok := eps[i]
		if !ok || !ap.IsValid() {
			continue
		}
		now = append(now, ap)
		peers = append(peers, wgtypes.PeerConfig{PublicKey: peer.PublicKey, UpdateOnly: true, Endpoint: net.UDPAddrFromAddrPort(ap)})
	}
	now = plan.SortEndpoints(now)
	old := blockOfPlan(p)
	if slices.Equal(old.Endpoints, now) {
		return false, nil
	}
	blocked := p.Block != nil
	if blocked {
		both := old
		both.Endpoints = plan.SortEndpoints(append(slices.Clone(old.Endpoints), now...))
		if err := e.holdBlock(ctx, t, j, link, both); err != nil {
			return false, fmt.Errorf("follow endpoints of %q: %w", link, err)
		}
	}
	if _, err := e.sys.Apply(ctx, plan.Op{Kind: plan.Configure, Link: link, Device: &plan.Device{Config: wgtypes.Config{Peers: peers}}}); err != nil {
		return false, fmt.Errorf("follow endpoints of %q: %w", link, err)
	}
	if blocked {
		nb := old
		nb.Endpoints = now
		if err := e.holdBlock(ctx, t, j, link, nb); err != nil {
			return false, fmt.Errorf("follow endpoints of %q: %w", link, err)
		}
	}
	e.logger.Printf("tunnel %q: endpoints now %v", link, now)
	return true, nil
}

// holdBlock makes b the block of the up tunnel t (link): its inverse
// journaled first, then applied, then recorded as t's one ks-release and
// its plan's block.
func (e *Engine) holdBlock(ctx context.Context, t *entry, j *journal.Journal, link string, b plan.Block) error {
	op := plan.Op{Kind: plan.KSHold, Link: link, Block: &b}
	inv, _ := op.Inverse()
	if err := j.Append(inv); err != nil {
		return err
	}
	if _, err := e.sys.Apply(ctx, op); err != nil {
		return err
	}
	e.mu.Lock()
	t.undo = append(withoutKind(t.undo, plan.KSRelease), inv)
	t.plan.Block = &b
	e.mu.Unlock()
	return nil
}

// EndpointResolver is a System that resolves a config's endpoints without
// the rest of Facts, which insist that the tunnel is not up.
type EndpointResolver interface {
	ResolveEndpoints(ctx context.Context, cfg *config.Config) (map[int]netip.AddrPort, error)
}

// ErrNotUp is wrapped by the errors of changes that need a tunnel that
// is up.
var ErrNotUp = errors.New("the tunnel is not up")
