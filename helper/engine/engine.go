// Package engine brings tunnels up and down: it reads facts from the
// machine, asks package plan for the operations, and applies them through
// a System, journaling each operation's inverse before making the change.
// Down, a failed Up and a crashed helper's cleanup all undo the same
// journal, so each deletes exactly what was added and nothing else.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/journal"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/ipc"
)

// System applies single operations to the machine. Apply of an inverse
// operation must be idempotent: deleting what is already gone succeeds.
type System interface {
	// Facts reads what the planner needs to know to bring cfg up as link.
	Facts(ctx context.Context, link string, cfg *config.Config) (plan.Facts, error)
	// Apply performs one operation. For one that creates an object that
	// someone else could also name — a link, an nftables table — it
	// returns the object's kernel identity, which the engine journals
	// with the inverse so that only that object is ever deleted; for
	// others the zero ID.
	Apply(ctx context.Context, op plan.Op) (plan.ID, error)
}

// ErrNotOurs is wrapped by the errors of an Up that found an object of the
// tunnel's name that it did not make: a link, an nftables table. It is
// left alone.
var ErrNotOurs = errors.New("exists and is not this tunnel's")

// StepError is the error of a failed Up: which step failed, and whether
// everything before it was undone.
type StepError struct {
	Step       int // index in the plan
	Op         string
	Err        error
	RollbackOK bool
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("step %d (%s): %v", e.Step+1, e.Op, e.Err)
	if !e.RollbackOK {
		s += " (rollback incomplete; run wgtray-helper --cleanup)"
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrActive is returned by Up for a tunnel that is already up.
var ErrActive = errors.New("tunnel is already up")

// Engine runs tunnels and is the one owner of their state: where each is
// in its life, what it applied, and why its last change failed. Its
// methods are safe for concurrent use; callers serialize state changes of
// one tunnel.
type Engine struct {
	sys      System
	stateDir string
	opts     plan.Options
	logger   *log.Logger
	observe  func(Change)

	// tunnelOpts gives each Up its kill-switch settings (block.go).
	tunnelOpts TunnelOptions

	mu      sync.Mutex
	tunnels map[string]*entry
	// kept are the blocks that tunnels that are down keep (block.go).
	kept map[string]plan.Block
	// lockdown says whether lockdown holds the block.
	lockdown bool
	// serving is set by AdoptBlocks: this helper holds kept blocks (a
	// --cleanup process only records them).
	serving bool
}

// Phase is where a tunnel is in its life.
type Phase int

// The phases, in the order a tunnel goes through them.
const (
	Down Phase = iota
	Connecting
	Up
	Disconnecting
)

// Change is one transition of a tunnel, as Observe reports it.
type Change struct {
	Tunnel  string
	Phase   Phase
	Err     string // why the change failed, if it did
	Message string // what happened, for people
}

// State is what the engine knows of one tunnel.
type State struct {
	Phase Phase
	Err   string     // why the last change failed; cleared by the next Up
	Plan  *plan.Plan // the applied plan, while Up
}

// entry is the engine's record of one tunnel: its phase and last error
// always, and what was applied while it is up.
type entry struct {
	phase   Phase
	err     string
	plan    *plan.Plan
	journal *journal.Journal
	undo    []plan.Op
	// holding is set once an Up's ks-hold is applied: the tunnel blocks
	// while it is still connecting.
	holding bool
}

// New returns an engine that journals under stateDir.
func New(sys System, stateDir string, opts plan.Options, logger *log.Logger) *Engine {
	return &Engine{sys: sys, stateDir: stateDir, opts: opts, logger: logger, tunnels: map[string]*entry{}, kept: map[string]plan.Block{}}
}

// Observe makes the engine call f with every change of a tunnel's phase,
// after the change is recorded, so that State within f already shows it.
// Call it once, before the first Up.
func (e *Engine) Observe(f func(Change)) { e.observe = f }

// set records a transition and reports it.
func (e *Engine) set(link string, ph Phase, errText, message string) {
	e.mu.Lock()
	t := e.tunnels[link]
	if t == nil {
		t = &entry{}
		e.tunnels[link] = t
	}
	t.phase = ph
	if ph == Connecting {
		t.err = ""
	}
	if errText != "" {
		t.err = errText
	}
	if ph == Down {
		t.plan, t.journal, t.undo, t.holding = nil, nil, nil, false
	}
	e.mu.Unlock()
	if e.observe != nil {
		e.observe(Change{Tunnel: link, Phase: ph, Err: errText, Message: message})
	}
}

// State returns what the engine knows of link; a tunnel it never saw is
// Down.
func (e *Engine) State(link string) State {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tunnels[link]; t != nil {
		return State{Phase: t.phase, Err: t.err, Plan: t.plan}
	}
	return State{Phase: Down}
}

// Up brings cfg up as link. On error, everything it did has been undone
// and the error is kept in the tunnel's State.
func (e *Engine) Up(ctx context.Context, link string, cfg *config.Config) (*plan.Plan, error) {
	if err := ipc.ValidName(link); err != nil {
		return nil, err
	}
	if e.State(link).Phase != Down {
		return nil, ErrActive
	}
	rec := spans.From(ctx)
	end := rec.Start("signals")
	e.set(link, Connecting, "", "connecting")
	end()
	p, err := e.up(ctx, link, cfg)
	if err != nil {
		e.set(link, Down, err.Error(), "failed: "+err.Error())
		return nil, err
	}
	defer rec.Start("signals")()
	e.set(link, Up, "", "connected")
	return p, nil
}

func (e *Engine) up(ctx context.Context, link string, cfg *config.Config) (*plan.Plan, error) {
	rec := spans.From(ctx)
	// What a dead helper, or a Down of ours that failed, left must go
	// before the facts are read: its link would make them fail.
	if path := journal.Path(e.stateDir, link); fileExists(path) {
		if err := e.cleanupOne(ctx, path); err != nil {
			// Set aside, it blocks nothing; the facts tell whether what
			// it left lets the tunnel come up.
			e.setAside(path, err)
		}
	}
	end := rec.Start("facts")
	facts, err := e.sys.Facts(ctx, link, cfg)
	end()
	if err != nil {
		return nil, fmt.Errorf("read system state: %w", err)
	}
	end = rec.Start("options")
	opts := e.opts
	if e.tunnelOpts != nil {
		opts.KillSwitch, opts.AllowLAN = e.tunnelOpts(link, cfg)
	}
	end()
	end = rec.Start("plan")
	p, err := plan.Build(link, cfg, facts, opts)
	end()
	if err != nil {
		return nil, err
	}
	t, err := e.apply(ctx, p)
	if err != nil {
		return nil, err
	}
	// Up, and holding its own block if it has the kill switch: one kept
	// from before is done with.
	end = rec.Start("unblock")
	if err := e.Unblock(ctx, link); err != nil {
		e.logger.Print(err)
	}
	end()
	e.mu.Lock()
	cur := e.tunnels[link]
	cur.plan, cur.journal, cur.undo = t.plan, t.journal, t.undo
	e.mu.Unlock()
	return p, nil
}

func (e *Engine) apply(ctx context.Context, p *plan.Plan) (*entry, error) {
	// up undid or set aside a dead helper's journal already; one that
	// is still here belongs to a live process, and Create refuses it.
	rec := spans.From(ctx)
	end := rec.Start("journal")
	j, err := journal.Create(e.stateDir, p.Link)
	end()
	if err != nil {
		return nil, err
	}
	t := &entry{plan: p, journal: j}
	for i, op := range p.Ops {
		fail := func(err error) error {
			return e.rollback(ctx, t, &StepError{Step: i, Op: op.String(), Err: err})
		}
		inv, hasInv := op.Inverse()
		if hasInv {
			// The inverse is on disk before the change is made: a crash
			// right after the change still leaves a way to undo it.
			end := rec.Start("journal")
			err := j.Append(inv)
			end()
			if err != nil {
				return nil, fail(err)
			}
			t.undo = append(t.undo, inv)
		}
		if err := ctx.Err(); err != nil {
			return nil, fail(err)
		}
		end := rec.StartIn("apply", string(op.Kind))
		id, err := e.sys.Apply(ctx, op)
		end()
		if err != nil {
			if hasInv && notMade(op, err) {
				e.notApplied(t)
			}
			return nil, fail(err)
		}
		if op.Kind == plan.KSHold {
			e.mu.Lock()
			if cur := e.tunnels[p.Link]; cur != nil {
				cur.holding = true
			}
			e.mu.Unlock()
		}
		if hasInv && !id.IsZero() {
			t.undo[len(t.undo)-1].ID = id
			end := rec.Start("journal")
			err := j.Append(plan.Op{Kind: plan.Owned, Link: p.Link, ID: id})
			end()
			if err != nil {
				return nil, fail(err)
			}
		}
	}
	end = rec.Start("journal")
	err = j.Append(plan.Op{Kind: plan.Completed, Link: p.Link})
	end()
	if err != nil {
		return nil, e.rollback(ctx, t, &StepError{Step: len(p.Ops) - 1, Op: "journal", Err: err})
	}
	return t, nil
}

// notMade reports whether op failed without making its change, so that its
// inverse must not run: an object that exists already is someone else's
// (we checked that ours did not exist before), and a failed hook is not
// undone by the other hooks, as in wg-quick.
func notMade(op plan.Op, err error) bool {
	return errors.Is(err, os.ErrExist) || op.Kind == plan.Hooks
}

// notApplied forgets the inverse of the step that just failed, on disk
// first: a crash during the rollback must not run it either.
func (e *Engine) notApplied(t *entry) {
	if err := t.journal.Append(plan.Op{Kind: plan.NotApplied, Link: t.plan.Link}); err != nil {
		e.logger.Printf("journal of %q: %v", t.plan.Link, err)
	}
	t.undo = t.undo[:len(t.undo)-1]
}

// rollback undoes a partly applied tunnel and returns the step error. Like
// wg-quick's trap on a failed up, it runs no PreDown or PostDown hooks.
func (e *Engine) rollback(ctx context.Context, t *entry, serr *StepError) error {
	// Undo even when ctx is cancelled: a half-applied tunnel is worse.
	failed, err := e.undo(context.WithoutCancel(ctx), withoutHooks(t.undo))
	if err == nil {
		err = t.journal.Remove()
	} else {
		err = errors.Join(err, e.keepFailed(t.journal, failed))
	}
	serr.RollbackOK = err == nil
	if err != nil {
		e.logger.Printf("rollback of %q: %v", t.plan.Link, err)
	}
	return serr
}

// withoutHooks returns the inverses that are not hooks.
func withoutHooks(ops []plan.Op) []plan.Op {
	var out []plan.Op
	for _, op := range ops {
		if op.Kind != plan.Hooks {
			out = append(out, op)
		}
	}
	return out
}

// undo applies inverses in reverse order. It goes on past failures so that
// as much as possible is undone, and returns the inverses that failed, in
// their original order, with all their errors.
func (e *Engine) undo(ctx context.Context, inverses []plan.Op) ([]plan.Op, error) {
	rec := spans.From(ctx)
	var errs []error
	var failed []plan.Op
	for _, op := range slices.Backward(inverses) {
		end := rec.StartIn("apply", string(op.Kind))
		_, err := e.sys.Apply(ctx, op)
		end()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", op, err))
			failed = append(failed, op)
		}
	}
	slices.Reverse(failed)
	return failed, errors.Join(errs...)
}

// keepFailed replaces j with a journal of only the inverses that failed,
// so that the next Up or --cleanup retries exactly those. A failed hook is
// not kept: wg-quick never runs a hook twice.
func (e *Engine) keepFailed(j *journal.Journal, failed []plan.Op) error {
	j.Close()
	recs := make([]any, 0, len(failed))
	for _, op := range withoutHooks(failed) {
		recs = append(recs, op)
	}
	if len(recs) == 0 {
		return journal.Discard(j.Path())
	}
	return journal.Replace(j.Path(), recs)
}

// Down takes link down, undoing exactly what Up did. A tunnel that is not
// up is not an error.
func (e *Engine) Down(ctx context.Context, link string) error {
	return e.DownBecause(ctx, link, "disconnected")
}

// DownBecause is Down, with why as the message of the final change.
func (e *Engine) DownBecause(ctx context.Context, link, why string) error {
	e.mu.Lock()
	t := e.tunnels[link]
	up := t != nil && t.phase == Up
	var undo []plan.Op
	var j *journal.Journal
	if up {
		undo, j = t.undo, t.journal
	}
	e.mu.Unlock()
	if !up {
		return nil
	}
	rec := spans.From(ctx)
	end := rec.Start("signals")
	e.set(link, Disconnecting, "", "disconnecting")
	end()
	if failed, err := e.undo(context.WithoutCancel(ctx), undo); err != nil {
		// Keep what failed so that the next Up or --cleanup finishes the
		// job; the rest is done.
		err = fmt.Errorf("take %q down: %w", link, err)
		if kerr := e.keepFailed(j, failed); kerr != nil {
			err = errors.Join(err, kerr)
		}
		e.set(link, Down, err.Error(), "disconnected with errors: "+err.Error())
		return err
	}
	end = rec.Start("journal")
	err := j.Remove()
	end()
	defer rec.Start("signals")()
	e.set(link, Down, "", why)
	return err
}

// Active returns the names of the tunnels that are up, sorted.
func (e *Engine) Active() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for n, t := range e.tunnels {
		if t.phase == Up {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Plan returns the plan of a tunnel that is up, or nil.
func (e *Engine) Plan(link string) *plan.Plan {
	return e.State(link).Plan
}

// DownAll takes every tunnel down.
func (e *Engine) DownAll(ctx context.Context) error {
	var errs []error
	for _, n := range e.Active() {
		errs = append(errs, e.Down(ctx, n))
	}
	return errors.Join(errs...)
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
