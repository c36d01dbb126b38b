package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wgtray/wgtray/helper/journal"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/proc"
)

// Cleanup undoes the journals that a dead helper left in the state
// directory. Journals of tunnels this engine runs, and of a process that is
// still alive, are left alone. A journal that cannot be read or undone is
// set aside (renamed NAME.journal.failed-TIME, still 0600) so that it never
// blocks its tunnel again, its tunnel's State says what was left, and
// Cleanup returns the errors of all of them: a helper that starts goes on
// to serve, --cleanup exits non-zero.
func (e *Engine) Cleanup(ctx context.Context) error {
	paths, err := journal.List(e.stateDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if err := e.cleanupOne(ctx, p); err != nil {
			errs = append(errs, e.setAside(p, err))
		}
	}
	return errors.Join(errs...)
}

// setAside moves a journal that could not be undone out of the way, logs
// what it still holds and records the failure in its tunnel's state. It
// returns err with where the journal went.
func (e *Engine) setAside(path string, err error) error {
	tunnel := journal.TunnelOf(path)
	held := "unreadable"
	if ent, rerr := journal.Read(path); rerr == nil {
		held = fmt.Sprintf("%d record(s)", len(ent.Records))
	}
	if to, rerr := journal.SetAside(path, time.Now()); rerr != nil {
		err = errors.Join(err, rerr)
	} else {
		err = fmt.Errorf("%w; its journal (%s) is kept as %s", err, held, to)
	}
	e.logger.Printf("tunnel %q: changes left by an earlier run were not all undone: %v", tunnel, err)
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tunnels[tunnel]
	if t == nil {
		t = &entry{}
		e.tunnels[tunnel] = t
	}
	if t.phase == Down {
		t.err = "left over from an earlier run and not undone: " + err.Error()
	}
	return err
}

// cleanupOne undoes one journal left by a dead helper, or by a Down of
// this one that failed, and deletes it; the caller sets it aside on error.
func (e *Engine) cleanupOne(ctx context.Context, path string) error {
	ent, err := journal.Read(path)
	if errors.Is(err, journal.ErrEmpty) {
		// A crash between creating the journal and writing its header:
		// nothing was recorded, so nothing was changed.
		e.logger.Printf("discarding %s: it recorded nothing", path)
		return journal.Discard(path)
	}
	if err != nil {
		return err
	}
	// A tunnel that is up or going down owns its journal; one connecting
	// is this engine's Up finding a dead helper's journal in its way.
	ph := e.State(ent.Header.Tunnel).Phase
	if ph == Up || ph == Disconnecting || (ent.Header.PID != os.Getpid() && proc.Alive(ent.Header.PID)) {
		return nil
	}
	ops, completed, err := replay(ent)
	if err != nil {
		return err
	}
	if !completed {
		// An Up that never finished: as wg-quick's trap, no PreDown or
		// PostDown.
		ops = withoutHooks(ops)
	}
	link := ent.Header.Tunnel
	kept, ops := splitKept(ops)
	if kept != nil {
		// The kill switch outlives the crash: recorded before anything
		// is undone, and its table left as it is.
		if err := e.writeKept(link, *kept); err != nil {
			return fmt.Errorf("clean up %q: keep its kill switch: %w", link, err)
		}
		e.logger.Printf("tunnel %q: keeping its kill switch: traffic outside the tunnel stays blocked until it reconnects or is disconnected", link)
	}
	e.logger.Printf("undoing %d recorded change(s) of tunnel %q left by process %d", len(ops), link, ent.Header.PID)
	if _, err := e.undo(ctx, ops); err != nil {
		return fmt.Errorf("clean up %q: %w", link, err)
	}
	if kept != nil {
		e.mu.Lock()
		serving := e.serving
		e.mu.Unlock()
		if serving {
			// This helper holds kept blocks itself (it adopted at start):
			// hold this one too.
			b := *kept
			if _, err := e.sys.Apply(ctx, plan.Op{Kind: plan.KSKeep, Link: link, Block: &b}); err != nil {
				return fmt.Errorf("clean up %q: keep its kill switch: %w", link, err)
			}
			e.mu.Lock()
			e.kept[link] = b
			e.mu.Unlock()
		}
	}
	return journal.Discard(path)
}

// replay reads a journal's records into the inverses still to run,
// applying the markers to the records before them, and reports whether the
// Up completed.
func replay(ent *journal.Entry) (ops []plan.Op, completed bool, err error) {
	for _, r := range ent.Records {
		var op plan.Op
		if err := json.Unmarshal(r, &op); err != nil {
			return nil, false, fmt.Errorf("journal %s: %w", ent.Path, err)
		}
		if op.Link != ent.Header.Tunnel {
			return nil, false, fmt.Errorf("journal %s: record for %q in the journal of %q", ent.Path, op.Link, ent.Header.Tunnel)
		}
		switch op.Kind {
		case plan.Owned, plan.NotApplied:
			if len(ops) == 0 {
				return nil, false, fmt.Errorf("journal %s: %s before any operation", ent.Path, op.Kind)
			}
			if op.Kind == plan.Owned {
				ops[len(ops)-1].ID = op.ID
			} else {
				ops = ops[:len(ops)-1]
			}
		case plan.Completed:
			completed = true
		case plan.KSReleased:
			ops = withoutKind(ops, plan.KSRelease)
		default:
			ops = append(ops, op)
		}
	}
	return ops, completed, nil
}
