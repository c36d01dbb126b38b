// Package engine brings tunnels up and down: it reads facts from the
// machine, asks package plan for the operations, and applies them through
// a System, journaling each operation's inverse before making the change.
// Down, a failed Up and a crashed helper's cleanup all undo the same
// journal, so each deletes exactly what was added and nothing else.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/journal"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/proc"
	"github.com/wgtray/wgtray/ipc"
)

// System applies single operations to the machine. Apply of an inverse
// operation must be idempotent: deleting what is already gone succeeds.
type System interface {
	// Facts reads what the planner needs to know to bring cfg up as link.
	Facts(ctx context.Context, link string, cfg *config.Config) (plan.Facts, error)
	// Apply performs one operation.
	Apply(ctx context.Context, op plan.Op) error
}

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

	mu      sync.Mutex
	tunnels map[string]*entry
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
}

// New returns an engine that journals under stateDir.
func New(sys System, stateDir string, opts plan.Options, logger *log.Logger) *Engine {
	return &Engine{sys: sys, stateDir: stateDir, opts: opts, logger: logger, tunnels: map[string]*entry{}}
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
		t.plan, t.journal, t.undo = nil, nil, nil
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
	e.set(link, Connecting, "", "connecting")
	p, err := e.up(ctx, link, cfg)
	if err != nil {
		e.set(link, Down, err.Error(), "failed: "+err.Error())
		return nil, err
	}
	e.set(link, Up, "", "connected")
	return p, nil
}

func (e *Engine) up(ctx context.Context, link string, cfg *config.Config) (*plan.Plan, error) {
	// What a dead helper, or a Down of ours that failed, left must go
	// before the facts are read: its link would make them fail.
	if path := journal.Path(e.stateDir, link); fileExists(path) {
		if err := e.cleanupOne(ctx, path); err != nil {
			return nil, fmt.Errorf("undo leftovers of %q: %w", link, err)
		}
	}
	facts, err := e.sys.Facts(ctx, link, cfg)
	if err != nil {
		return nil, fmt.Errorf("read system state: %w", err)
	}
	p, err := plan.Build(link, cfg, facts, e.opts)
	if err != nil {
		return nil, err
	}
	t, err := e.apply(ctx, p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	cur := e.tunnels[link]
	cur.plan, cur.journal, cur.undo = t.plan, t.journal, t.undo
	e.mu.Unlock()
	return p, nil
}

func (e *Engine) apply(ctx context.Context, p *plan.Plan) (*entry, error) {
	j, err := journal.Create(e.stateDir, p.Link)
	if errors.Is(err, os.ErrExist) || errors.Is(err, syscall.EEXIST) {
		// A journal of a dead helper: undo it before starting over.
		if cerr := e.cleanupOne(ctx, journal.Path(e.stateDir, p.Link)); cerr != nil {
			return nil, fmt.Errorf("undo leftovers of %q: %w", p.Link, cerr)
		}
		j, err = journal.Create(e.stateDir, p.Link)
	}
	if err != nil {
		return nil, err
	}
	t := &entry{plan: p, journal: j}
	for i, op := range p.Ops {
		if inv, ok := op.Inverse(); ok {
			// The inverse is on disk before the change is made: a crash
			// right after the change still leaves a way to undo it.
			if err := j.Append(inv); err != nil {
				return nil, e.rollback(ctx, t, &StepError{Step: i, Op: op.String(), Err: err})
			}
			t.undo = append(t.undo, inv)
		}
		if err := ctx.Err(); err != nil {
			return nil, e.rollback(ctx, t, &StepError{Step: i, Op: op.String(), Err: err})
		}
		if err := e.sys.Apply(ctx, op); err != nil {
			return nil, e.rollback(ctx, t, &StepError{Step: i, Op: op.String(), Err: err})
		}
	}
	return t, nil
}

// rollback undoes a partly applied tunnel and returns the step error.
func (e *Engine) rollback(ctx context.Context, t *entry, serr *StepError) error {
	// Undo even when ctx is cancelled: a half-applied tunnel is worse.
	err := e.undo(context.WithoutCancel(ctx), t.undo)
	if err == nil {
		err = t.journal.Remove()
	} else {
		t.journal.Close()
	}
	serr.RollbackOK = err == nil
	if err != nil {
		e.logger.Printf("rollback of %q: %v", t.plan.Link, err)
	}
	return serr
}

// undo applies inverses in reverse order. It goes on past failures so that
// as much as possible is undone, and returns them all.
func (e *Engine) undo(ctx context.Context, inverses []plan.Op) error {
	var errs []error
	for _, op := range slices.Backward(inverses) {
		if err := e.sys.Apply(ctx, op); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", op, err))
		}
	}
	return errors.Join(errs...)
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
	e.set(link, Disconnecting, "", "disconnecting")
	if err := e.undo(context.WithoutCancel(ctx), undo); err != nil {
		// Keep the journal so that --cleanup can finish the job.
		j.Close()
		err = fmt.Errorf("take %q down: %w", link, err)
		e.set(link, Down, err.Error(), "disconnected with errors: "+err.Error())
		return err
	}
	err := j.Remove()
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

// Cleanup undoes the journals that a dead helper left in the state
// directory. Journals of tunnels this engine runs, and of a process that is
// still alive, are left alone.
func (e *Engine) Cleanup(ctx context.Context) error {
	paths, err := journal.List(e.stateDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		errs = append(errs, e.cleanupOne(ctx, p))
	}
	return errors.Join(errs...)
}

func (e *Engine) cleanupOne(ctx context.Context, path string) error {
	ent, err := journal.Read(path)
	if err != nil {
		return err
	}
	// A tunnel that is up or going down owns its journal; one connecting
	// is this engine's Up finding a dead helper's journal in its way.
	ph := e.State(ent.Header.Tunnel).Phase
	if ph == Up || ph == Disconnecting || (ent.Header.PID != os.Getpid() && proc.Alive(ent.Header.PID)) {
		return nil
	}
	var ops []plan.Op
	for _, r := range ent.Records {
		var op plan.Op
		if err := json.Unmarshal(r, &op); err != nil {
			return fmt.Errorf("journal %s: %w", path, err)
		}
		if op.Link != ent.Header.Tunnel {
			return fmt.Errorf("journal %s: record for %q in the journal of %q", path, op.Link, ent.Header.Tunnel)
		}
		ops = append(ops, op)
	}
	e.logger.Printf("undoing %d recorded change(s) of tunnel %q left by process %d", len(ops), ent.Header.Tunnel, ent.Header.PID)
	if err := e.undo(ctx, ops); err != nil {
		return fmt.Errorf("clean up %q: %w", ent.Header.Tunnel, err)
	}
	return journal.Discard(path)
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
