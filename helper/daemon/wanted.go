package daemon

import (
	"context"
	"errors"

	"github.com/wgtray/wgtray/ipc"
)

// Wanted keeps which tunnels the user wants up (package wanted): a
// Connect adds the wish, an explicit Disconnect or Remove takes it away,
// and a helper that starts after a crash brings them up again (Restore).
type Wanted interface {
	Add(name string) error
	Remove(name string) error
	List() []string
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

// Restore brings up the tunnels wanted up, as root would connect them,
// once at start (after the start-up cleanup): the helper before this one
// crashed or was killed with them up. A config with hooks is not brought
// up unasked: its hooks run as root, and who connected it last is not
// here to be asked. It logs what it did, last "restore: …".
func (s *Server) Restore(ctx context.Context) {
	if s.c.Wanted == nil {
		return
	}
	names := s.c.Wanted.List()
	if len(names) == 0 {
		s.c.Logger.Print("restore: no tunnel wanted up")
		return
	}
	ok := 0
	for _, name := range names {
		cctx, cancel := context.WithTimeout(ctx, changeTimeout)
		err := s.connect(cctx, name, false)
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
