package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/ipc"
)

// lock takes the locks that a change (what, of tunnel name) needs. want
// says which from the state of the moment; it is asked again once they
// are held, when the state can no longer change under the change, and if
// it needs more than it got (another full tunnel came up meanwhile, say)
// all are given back and taken again with the rest. An error of want, or
// of the wait, is returned with nothing held.
func (s *Server) lock(ctx context.Context, what, name string, want func() (lockSet, error)) (release func(), err error) {
	ls, err := want()
	if err != nil {
		return nil, err
	}
	logged := false
	waiting := func() {
		if !logged {
			logged = true
			s.c.Logger.Printf("%s of %q waits for a change in progress", what, name)
		}
	}
	for {
		release, err := s.locks.take(ctx, ls, waiting)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q: gave up waiting for a change in progress: %v", ipc.ErrFailed, what, name, err)
		}
		need, err := want()
		if err != nil {
			release()
			return nil, err
		}
		if ls.covers(need) {
			return release, nil
		}
		release()
		ls = ls.union(need)
	}
}

// upLocks is what a change of a tunnel as it is now needs: its own lock,
// and if it is up, those of what its plan changed.
func (s *Server) upLocks(name string) lockSet {
	ls := lockSet{tunnels: []string{name}}
	if p := s.c.Engine.State(name).Plan; p != nil {
		ls.routing = p.FullTunnel
		ls.dns = p.DNS != nil
	}
	return ls
}

// connectLocks is what connecting cfg as name needs: for a full tunnel
// also the locks of the full tunnels it takes down.
func (s *Server) connectLocks(name string, cfg *config.Config) lockSet {
	ls := s.upLocks(name)
	in := cfg.Interface
	ls.dns = ls.dns || len(in.DNS) > 0 || len(in.DNSSearch) > 0
	ls.routing = ls.routing || cfg.FullTunnel() || in.Table.Mode == config.TableNumber
	if cfg.FullTunnel() {
		for _, other := range s.c.Engine.Active() {
			if p := s.c.Engine.State(other).Plan; p != nil && p.FullTunnel {
				ls = ls.union(s.upLocks(other))
			}
		}
	}
	return ls
}

// connect brings name up, first taking down another full tunnel. The
// config is read again with the locks held: the one the caller was
// authorized for may have been removed (NotFound) or replaced meanwhile.
// scriptsOK says whether the caller may run hooks. first, if not nil, is
// the config as the caller read it, which chooses the locks to wait for
// without a read of its own.
func (s *Server) connect(ctx context.Context, name string, scriptsOK bool, first *config.Config) error {
	rec := spans.From(ctx)
	end := rec.Start("locks")
	var cfg *config.Config
	release, err := s.lock(ctx, "connect", name, func() (lockSet, error) {
		c := first
		first = nil // every later ask, with the locks held, reads it again
		if c == nil {
			var err error
			if c, err = s.loadConfig(name); err != nil {
				return lockSet{}, err
			}
		}
		cfg = c
		return s.connectLocks(name, c), nil
	})
	end()
	if err != nil {
		return err
	}
	defer release()
	if s.stopping.Load() {
		return fmt.Errorf("%w: connect %q: the helper is stopping", ipc.ErrFailed, name)
	}
	if st, _ := s.state(name); st == ipc.StateConnected {
		return nil
	}
	if cfg.HasScripts() {
		if !s.c.AllowScripts {
			return fmt.Errorf("%w: %v", ipc.ErrScriptsDisabled, plan.ErrScriptsDisabled)
		}
		if !scriptsOK {
			return fmt.Errorf("%w: the config of %q was replaced by one with hooks, which need %s; try again", ipc.ErrAccessDenied, name, ActionManageScripts)
		}
	}
	var replaced []string
	if cfg.FullTunnel() {
		for _, other := range s.c.Engine.Active() {
			if p := s.c.Engine.State(other).Plan; p != nil && p.FullTunnel {
				// Its block stays until this one holds its own.
				s.downKeeping(spans.With(ctx, rec.Sub("replace")), other, fmt.Sprintf("disconnected because full tunnel %q is connecting", name))
				replaced = append(replaced, other)
				s.want(other, false) // replaced by the user's choice
			}
		}
	}
	defer func() {
		defer rec.Start("blocking-property")()
		s.blockingChanged()
	}()
	end = rec.Start("engine")
	_, err = s.c.Engine.Up(spans.With(ctx, rec.Sub("engine")), name, cfg)
	end()
	if err != nil {
		if errors.Is(err, plan.ErrScriptsDisabled) {
			return fmt.Errorf("%w: %v", ipc.ErrScriptsDisabled, err)
		}
		if errors.Is(err, engine.ErrNotOurs) {
			// Another program's link or table has the tunnel's name.
			return fmt.Errorf("%w: connect %q: %v", ipc.ErrExists, name, err)
		}
		return fmt.Errorf("%w: connect %q: %v", ipc.ErrFailed, name, err)
	}
	for _, other := range replaced {
		if err := s.unblock(spans.With(ctx, rec.Sub("replace")), other); err != nil {
			s.c.Logger.Print(err)
		}
	}
	return nil
}

// lockUp takes the locks of a change of name as it is now.
func (s *Server) lockUp(ctx context.Context, what, name string) (func(), error) {
	return s.lock(ctx, what, name, func() (lockSet, error) { return s.upLocks(name), nil })
}

// disconnect is the user's own Disconnect: the tunnel goes down, and its
// kill switch with it (also one kept from before).
func (s *Server) disconnect(ctx context.Context, name, message string) error {
	rec := spans.From(ctx)
	end := rec.Start("locks")
	release, err := s.lockUp(ctx, "disconnect", name)
	end()
	if err != nil {
		return err
	}
	defer release()
	end = rec.Start("engine")
	err = s.disconnectLocked(spans.With(ctx, rec.Sub("engine")), name, message)
	end()
	if err != nil {
		return err
	}
	defer rec.Start("unblock")()
	return s.unblock(spans.With(ctx, rec.Sub("unblock")), name)
}

// stop takes name down for the helper stopping, keeping its kill switch.
func (s *Server) stop(ctx context.Context, name string) error {
	release, err := s.lockUp(ctx, "disconnect", name)
	if err != nil {
		return err
	}
	defer release()
	return s.downKeeping(ctx, name, "helper stopping")
}

func (s *Server) disconnectLocked(ctx context.Context, name, message string) error {
	if err := s.c.Engine.DownBecause(ctx, name, message); err != nil {
		return fmt.Errorf("%w: disconnect %q: %v", ipc.ErrFailed, name, err)
	}
	return nil
}

// remove disconnects name and deletes its config, holding its lock
// throughout: a Connect waiting for it finds no config and brings nothing
// up.
func (s *Server) remove(ctx context.Context, name string) error {
	release, err := s.lockUp(ctx, "remove", name)
	if err != nil {
		return err
	}
	defer release()
	if err := s.disconnectLocked(ctx, name, "disconnected: tunnel removed"); err != nil {
		return err
	}
	if err := s.unblock(ctx, name); err != nil {
		return err
	}
	if err := s.c.Store.Remove(name); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: no tunnel %q", ipc.ErrNotFound, name)
	} else if err != nil {
		return fmt.Errorf("%w: remove %q: %v", ipc.ErrFailed, name, err)
	}
	if s.c.Options != nil {
		// The config is gone already; stale options would only mislead
		// a later tunnel of the same name.
		if err := s.c.Options.RemoveTunnel(name); err != nil {
			s.c.Logger.Printf("remove options of %q: %v", name, err)
		}
	}
	s.c.Logger.Printf("removed %q", name)
	s.refreshAutoconnect()
	return nil
}

// LinkGone handles a tunnel's interface disappearing underneath the
// helper: the rest of what Up added is removed and clients are told.
func (s *Server) LinkGone(link string) {
	if st, _ := s.state(link); st != ipc.StateConnected {
		return // our own Disconnect, or not ours: no lock taken
	}
	ctx, cancel := context.WithTimeout(s.ctx, changeTimeout)
	defer cancel()
	release, err := s.lockUp(ctx, "clean-up of a deleted link", link)
	if err != nil {
		s.c.Logger.Printf("link %q deleted: %v", link, err)
		return
	}
	defer release()
	if st, _ := s.state(link); st != ipc.StateConnected {
		return
	}
	// The event may be late: the deletion of the link of an earlier
	// Disconnect, seen after the tunnel came up again. Only a link that is
	// gone now means the tunnel lost it; in doubt the tunnel stays.
	if exists, err := s.c.Links.LinkExists(link); err != nil || exists {
		if err != nil {
			s.c.Logger.Printf("link %q deleted? %v: keeping the tunnel", link, err)
		}
		return
	}
	// Not the user's doing: a kill switch holds on.
	s.downKeeping(ctx, link, fmt.Sprintf("interface %s disappeared", link))
}

// Shutdown takes every tunnel down, once the changes in progress are
// over, and connects none from then on. It returns when ctx ends even if
// a change still runs (a hook that does not end, say): what is left is in
// the journals, for `wgtray-helper --cleanup`.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.downAll(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: take every tunnel down: %v, with changes still running; wgtray-helper --cleanup undoes what they leave", ipc.ErrFailed, ctx.Err())
	}
}

// downAll disconnects the tunnels that are up and those a change holds or
// waits for, after that change.
func (s *Server) downAll(ctx context.Context) error {
	names := append(s.c.Engine.Active(), s.locks.busy()...)
	slices.Sort(names)
	var errs []error
	for _, n := range slices.Compact(names) {
		errs = append(errs, s.stop(ctx, n))
	}
	// A Connect that got its locks before stopping was set is among the
	// busy above, and none connects after it; this second look only
	// guards that reasoning.
	for _, n := range s.c.Engine.Active() {
		errs = append(errs, s.stop(ctx, n))
	}
	return errors.Join(errs...)
}
