package daemon

import (
	"context"
	"errors"
	"slices"

	"github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/ipc"
)

// Wanted keeps which tunnels the user wants up (package wanted): a
// Connect adds the wish, an explicit Disconnect or Remove takes it away,
// and a helper that starts after a crash brings them up again (Restore).
type Wanted interface {
	Add(name string) error
	Remove(name string) error
	List() []string
	// SetBoot records which tunnels come up at boot (autoconnect boot),
	// for the boot unit's condition.
	SetBoot(names []string) error
}

// autoconnectNames lists the stored tunnels whose autoconnect is boot.
func (s *Server) autoconnectNames() []string {
	if s.c.Options == nil {
		return nil
	}
	names, err := s.c.Store.List()
	if err != nil {
		s.c.Logger.Printf("autoconnect: list tunnels: %v", err)
		return nil
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		v, err := s.c.Options.TunnelValues(n)
		if err != nil {
			s.c.Logger.Printf("autoconnect: options of %q: %v", n, err)
			continue
		}
		if v.Get(options.Tunnel, options.Autoconnect) == options.Boot {
			out = append(out, n)
		}
	}
	return out
}

// autoconnect returns name's autoconnect option ("off" by default).
func (s *Server) autoconnect(name string) string {
	v := options.Values{}
	if s.c.Options != nil {
		if got, err := s.c.Options.TunnelValues(name); err == nil {
			v = got
		}
	}
	return v.Get(options.Tunnel, options.Autoconnect)
}

// refreshAutoconnect records which tunnels come up at boot.
func (s *Server) refreshAutoconnect() {
	if s.c.Wanted == nil {
		return
	}
	if err := s.c.Wanted.SetBoot(s.autoconnectNames()); err != nil {
		s.c.Logger.Printf("autoconnect: %v", err)
	}
}

// want records a wish, logging a failure: the tunnel is up either way,
// it only would not come back after a crash.
func (s *Server) want(name string, up bool) {
	if s.c.Wanted == nil {
		return
	}
	op := s.c.Wanted.Remove
	if up {
		op = s.c.Wanted.Add
	}
	if err := op(name); err != nil {
		s.c.Logger.Printf("record whether %q is wanted up: %v", name, err)
	}
}

// wantedUp reports whether name is wanted up now.
func (s *Server) wantedUp(name string) bool {
	return s.c.Wanted != nil && slices.Contains(s.c.Wanted.List(), name)
}

// Restore brings up the tunnels wanted up, as root would connect them,
// once at start (after the start-up cleanup): those the helper before
// this one had up when it crashed or was killed, and those whose
// autoconnect is boot. A config with hooks is not brought
// up unasked: its hooks run as root, and who connected it last is not
// here to be asked. It logs what it did, last "restore: …".
func (s *Server) Restore(ctx context.Context) {
	if s.c.Wanted == nil {
		return
	}
	boot := s.autoconnectNames()
	s.refreshAutoconnect()
	names := s.c.Wanted.List()
	for _, n := range boot {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		s.c.Logger.Print("restore: no tunnel wanted up")
		return
	}
	ok := 0
	for _, name := range names {
		cctx, cancel := context.WithTimeout(ctx, changeTimeout)
		err := s.connect(cctx, name, false, nil)
		cancel()
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ipc.ErrNotFound):
			s.want(name, false) // removed meanwhile
			fallthrough
		default:
			s.c.Logger.Printf("restore %q: %v", name, err)
		}
	}
	s.c.Logger.Printf("restore: %d of %d tunnels wanted up brought up again", ok, len(names))
}
