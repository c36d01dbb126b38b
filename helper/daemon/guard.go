package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/ipc"
)

// Repairer puts back a connected tunnel's rules and routes that someone
// else deleted (package engine's Engine.Repair).
type Repairer interface {
	Repair(ctx context.Context, link string) ([]plan.Op, error)
}

// Healer re-resolves a tunnel's endpoints and sets them again (package
// engine's Linux).
type Healer interface {
	Resolve(ctx context.Context, cfg *config.Config) (map[wgtypes.Key]netip.AddrPort, error)
	SetEndpoints(link string, eps map[wgtypes.Key]netip.AddrPort, autoMTU bool, mark uint32) error
}

// Problems is where the guard says that a tunnel's routing could not be
// put back, which makes it stalled (package health's Monitor).
type Problems interface {
	SetProblem(tunnel, reason string)
}

// guardLogEvery bounds the guard's log: another program that deletes our
// rules in a loop must not fill the journal.
const guardLogEvery = time.Minute

// guard runs the repairs, one at a time per tunnel: a burst of deletions
// (`ip route flush`, networkd's reconfiguration) makes one repair, and
// one more if deletions came while it ran.
type guard struct {
	mu      sync.Mutex
	running map[string]bool // a repair runs
	again   map[string]bool // and another is due when it ends
	logged  map[string]time.Time
	problem map[string]bool
}

func newGuard() *guard {
	return &guard{running: map[string]bool{}, again: map[string]bool{}, logged: map[string]time.Time{}, problem: map[string]bool{}}
}

// RoutingDeleted is told that a rule or a route was deleted: each
// connected tunnel's rules and routes are checked, and what is gone of
// them put back, at once.
func (s *Server) RoutingDeleted() {
	s.repairAll(false)
}

// RetryRepairs tries again to put back the routing of the tunnels whose
// last repair failed: the network changed (their link came up again,
// say), so it may succeed now.
func (s *Server) RetryRepairs() {
	s.repairAll(true)
}

func (s *Server) repairAll(onlyFailed bool) {
	if s.c.Repair == nil {
		return
	}
	for _, name := range s.c.Engine.Active() {
		g := s.guard
		g.mu.Lock()
		if onlyFailed && !g.problem[name] {
			g.mu.Unlock()
			continue
		}
		if g.running[name] {
			g.again[name] = true
			g.mu.Unlock()
			continue
		}
		g.running[name] = true
		g.mu.Unlock()
		go s.repairLoop(name)
	}
}

func (s *Server) repairLoop(name string) {
	g := s.guard
	for {
		s.repair(name)
		g.mu.Lock()
		if !g.again[name] || s.ctx.Err() != nil {
			delete(g.running, name)
			delete(g.again, name)
			g.mu.Unlock()
			return
		}
		delete(g.again, name)
		g.mu.Unlock()
	}
}

func (s *Server) repair(name string) {
	ctx, cancel := context.WithTimeout(s.ctx, changeTimeout)
	defer cancel()
	release, err := s.lockUp(ctx, "routing repair", name)
	if err != nil {
		return // the helper is stopping
	}
	defer release()
	if st, _ := s.state(name); st != ipc.StateConnected {
		return
	}
	// A tunnel whose link went away is LinkGone's: nothing to put back.
	if exists, err := s.c.Links.LinkExists(name); err != nil || !exists {
		return
	}
	done, err := s.c.Repair.Repair(ctx, name)
	g := s.guard
	g.mu.Lock()
	logNow := time.Since(g.logged[name]) >= guardLogEvery
	hadProblem := g.problem[name]
	g.problem[name] = err != nil
	if (len(done) > 0 || err != nil) && logNow {
		g.logged[name] = time.Now()
	}
	g.mu.Unlock()
	if len(done) > 0 && logNow {
		var what []string
		for _, op := range done {
			what = append(what, op.String())
		}
		s.c.Logger.Printf("%q: another program deleted its routing; put back: %s (logged at most once a minute)", name, strings.Join(what, "; "))
	}
	if err != nil {
		if logNow {
			s.c.Logger.Printf("%q: could not put its routing back: %v", name, err)
		}
		if s.c.Problems != nil {
			s.c.Problems.SetProblem(name, "routing deleted by another program and not put back: "+err.Error())
		}
		return
	}
	if hadProblem && s.c.Problems != nil {
		s.c.Problems.SetProblem(name, "")
	}
}

// Heal resolves a connected tunnel's endpoints again and sets them, with
// the tunnel's lock held only for setting them: a resolver that takes its
// time must not hold up a Disconnect.
func (s *Server) Heal(ctx context.Context, name, why string) {
	if s.c.Healer == nil {
		return
	}
	cfg, err := s.loadConfig(name)
	if err != nil {
		s.c.Logger.Printf("heal %q (%s): %v", name, why, err)
		return
	}
	eps, rerr := s.c.Healer.Resolve(ctx, cfg)
	release, err := s.locks.take(ctx, lockSet{tunnels: []string{name}}, func() {})
	if err != nil {
		return // the tunnel went down meanwhile, or the helper stops
	}
	defer release()
	st := s.c.Engine.State(name)
	if st.Phase != engine.Up || st.Plan == nil {
		return
	}
	mark := st.Plan.Table
	if cfg.Interface.FwMark != nil {
		mark = *cfg.Interface.FwMark
	}
	// With the kill switch the block lets only the endpoints it knows
	// through: the engine moves block and device together to new ones.
	if f, ok := s.c.Repair.(endpointFollower); ok && s.tunnelBlocking(name) {
		if _, ferr := f.FollowEndpoints(ctx, name, cfg); ferr != nil {
			rerr = joinErrs(rerr, ferr)
		}
	}
	err = s.c.Healer.SetEndpoints(name, eps, cfg.Interface.MTU == 0, mark)
	switch {
	case rerr != nil || err != nil:
		s.c.Logger.Printf("heal %q (%s): %v", name, why, joinErr(rerr, err))
	default:
		s.c.Logger.Printf("heal %q (%s): endpoints set again", name, why)
	}
}

// endpointFollower is the engine's FollowEndpoints (the kill switch's
// way of changing endpoints).
type endpointFollower interface {
	FollowEndpoints(ctx context.Context, link string, cfg *config.Config) (bool, error)
}

func joinErrs(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}

func joinErr(a, b error) string {
	switch {
	case a == nil:
		return b.Error()
	case b == nil:
		return a.Error()
	}
	return a.Error() + "; " + b.Error()
}
