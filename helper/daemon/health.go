package daemon

import (
	"time"

	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/health"
	"github.com/wgtray/wgtray/ipc"
)

// Health judges connected tunnels (package health's Monitor): the server
// tells it which are connected, asks it for Status, and is told of
// every change through HealthChanged.
type Health interface {
	Add(tunnel string)
	Remove(tunnel string)
	Verdict(tunnel string) (health.Verdict, bool)
}

// followHealth starts and stops judging a tunnel with its phase: from
// connected until it starts to disconnect, so that the device is never
// read while it goes away.
func (s *Server) followHealth(ch engine.Change) {
	if s.c.Health == nil {
		return
	}
	switch ch.Phase {
	case engine.Up:
		s.c.Health.Add(ch.Tunnel)
		if v, ok := s.c.Health.Verdict(ch.Tunnel); ok {
			s.HealthChanged(ch.Tunnel, v)
		}
	case engine.Disconnecting, engine.Down:
		s.c.Health.Remove(ch.Tunnel)
	}
}

// HealthChanged tells the log and the bus of a change of a connected
// tunnel's health.
func (s *Server) HealthChanged(tunnel string, v health.Verdict) {
	if st, _ := s.state(tunnel); st != ipc.StateConnected {
		return // a verdict that raced the disconnect
	}
	if v.State == health.Stalled {
		s.c.Logger.Printf("%q is stalled: %s (last heard from %s)", tunnel, v.Reason, v.Since.Format(time.TimeOnly))
	} else {
		s.c.Logger.Printf("%q is %s", tunnel, v.State)
	}
	if err := s.c.Conn.Emit(ipc.ObjectPath, ipc.Interface+"."+ipc.SignalHealthChanged,
		tunnel, string(v.State), v.Peer, v.Since.Unix(), v.Reason); err != nil {
		s.c.Logger.Printf("emit HealthChanged: %v", err)
	}
}

// statusHealth fills the health keys of a connected tunnel's status.
func (s *Server) statusHealth(out *ipc.Status) {
	if s.c.Health == nil {
		return
	}
	v, ok := s.c.Health.Verdict(out.Name)
	if !ok {
		return
	}
	out.Health = ipc.Health(v.State)
	out.HealthPeer = v.Peer
	out.HealthSince = v.Since.Unix()
	out.HealthReason = v.Reason
}
