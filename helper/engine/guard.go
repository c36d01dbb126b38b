package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/wgtray/wgtray/helper/plan"
)

// Guarded says which of a tunnel's applied operations the routing guard
// keeps in place: its policy rules, its routes (through the link and the
// leak guard's unreachable ones) and its addresses (the kernel drops a
// link's IPv6 addresses when it is set down). Other programs delete them —
// systemd-networkd deletes foreign rules whenever it reconfigures
// (ManageForeignRoutingPolicyRules=yes, its default) — and without them
// a full tunnel's traffic goes around it.
func Guarded(op plan.Op) bool {
	switch op.Kind {
	case plan.RuleAdd, plan.RouteAdd, plan.BlockAdd, plan.AddrAdd:
		return true
	}
	return false
}

// Checker is the part of a System the routing guard needs: which of
// some operations' changes are no longer there.
type Checker interface {
	Missing(ctx context.Context, ops []plan.Op) ([]plan.Op, error)
}

// Repair puts back what someone else deleted of a tunnel that is up: of
// the operations its plan applied, the Guarded ones whose change is
// gone are applied again, each inverse journaled first as in Up, so that
// Down and --cleanup remove them as before (deleting what is already
// gone succeeds). Only what the tunnel's own plan made is ever added.
// It returns what it put back. The caller holds the tunnel's lock.
func (e *Engine) Repair(ctx context.Context, link string) ([]plan.Op, error) {
	chk, ok := e.sys.(Checker)
	if !ok {
		return nil, errors.New("this system cannot check routing")
	}
	e.mu.Lock()
	t := e.tunnels[link]
	if t == nil || t.phase != Up || t.plan == nil {
		e.mu.Unlock()
		return nil, nil
	}
	p, j := t.plan, t.journal
	e.mu.Unlock()
	var guarded []plan.Op
	// Addresses first: a route through the link may need its address.
	for _, op := range p.Ops {
		if op.Kind == plan.AddrAdd {
			op.Link = p.Link
			guarded = append(guarded, op)
		}
	}
	for _, op := range p.Ops {
		if Guarded(op) && op.Kind != plan.AddrAdd {
			op.Link = p.Link
			guarded = append(guarded, op)
		}
	}
	if len(guarded) == 0 {
		return nil, nil
	}
	missing, err := chk.Missing(ctx, guarded)
	if err != nil {
		return nil, fmt.Errorf("check the routing of %q: %w", link, err)
	}
	var done []plan.Op
	var errs []error
	for _, op := range missing {
		if inv, ok := op.Inverse(); ok {
			if err := j.Append(inv); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", op, err))
				continue
			}
			e.mu.Lock()
			t.undo = append(t.undo, inv)
			e.mu.Unlock()
		}
		if _, err := e.sys.Apply(ctx, op); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", op, err))
			continue
		}
		done = append(done, op)
	}
	return done, errors.Join(errs...)
}
