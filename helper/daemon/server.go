// Package daemon is the helper's D-Bus service: it exports the contract of
// package ipc on the system bus, checks every call's arguments, authorizes
// every state change with polkit, serializes the changes that must not
// interleave (see lockSet), and reports them with StateChanged signals.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"sync"
	"sync/atomic"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/ipc"
)

// Engine brings tunnels up and down and owns their state (package
// engine): the server keeps none of its own.
type Engine interface {
	Up(ctx context.Context, link string, cfg *config.Config) (*plan.Plan, error)
	DownBecause(ctx context.Context, link, why string) error
	State(link string) engine.State
	Active() []string
	Observe(func(engine.Change))
}

// Store holds the tunnels' configs (package store).
type Store interface {
	List() ([]string, error)
	Read(name string) ([]byte, error)
	Import(name string, data []byte) error
	Remove(name string) error
}

// Links tells whether an interface exists now (package engine's System).
type Links interface {
	LinkExists(name string) (bool, error)
}

// Devices reads WireGuard device state (package wgdev).
type Devices interface {
	Device(name string) (*wgtypes.Device, error)
}

// Deps are what a Server works with: its bus connection, the engine, the
// config store, the devices, the authorizer and the logger, with the
// settings root started the helper with.
type Deps struct {
	Conn    *dbus.Conn
	Engine  Engine
	Store   Store
	Devices Devices
	Links   Links
	// Options keeps wgtray's own settings; nil keeps none (SetOption and
	// SetTunnelOption fail, every tunnel has the defaults).
	Options      Options
	Auth         Authorizer
	Logger       *log.Logger
	Version      string
	AllowScripts bool
	// Diagnoser runs Diagnose; without one Diagnose fails.
	Diagnoser Diagnoser
	// NoLeakGuard is the helper's --leak-guard=false, which Diagnose
	// reports.
	NoLeakGuard bool
	// Health, when set, judges the connected tunnels' health.
	Health Health
	// Repair, Healer and Problems, when set, are the routing guard's
	// and the healing's (see RoutingDeleted and Heal).
	Repair   Repairer
	Healer   Healer
	Problems Problems
	// Wanted, when set, keeps which tunnels are wanted up, durably.
	Wanted Wanted
	// Timing makes Connect and Disconnect log how long each of their
	// steps took (package spans; the helper's WGTRAY_TIMING=1).
	Timing bool
	// DNS, when set, says what Status must add to a tunnel's DNS manager.
	DNS DNSNoter
	// Claimer, when set, is told of each tunnel that is up, so that the
	// machine's network manager leaves its link alone (package
	// networkmanager).
	Claimer Claimer
}

// DNSNoter says what is wrong with a DNS manager's settings now: ""
// when nothing is, else a few words for Status (see dns.Host.Note).
type DNSNoter interface {
	DNSNote(manager string) string
}

// Claimer marks a tunnel's link as not the network manager's own.
type Claimer interface {
	Claim(link string)
}

// Server is the exported helper object.
type Server struct {
	c   Deps
	ctx context.Context // ends when the helper stops; each call derives its own

	calls *callGate
	locks *changeLocks
	guard *guard
	// stopping is set by Shutdown: from then on no tunnel is connected.
	stopping atomic.Bool
	// props are the exported properties, set by Export.
	props *prop.Properties
	// machineMu serializes changes of the machine-wide options.
	machineMu sync.Mutex
	// timed are the Recorders of the Connects and Disconnects in
	// progress, by tunnel, with Deps.Timing: changed, which the engine
	// calls without a context, times its parts into them.
	timedMu sync.Mutex
	timed   map[string]*spans.Recorder
}

// New returns a server. Each method call works under a context derived
// from ctx, with a deadline of its own; ctx ending cancels them all, and
// the changes they wait for or are making.
func New(ctx context.Context, c Deps) *Server {
	s := &Server{c: c, ctx: ctx, calls: newCallGate(), locks: newChangeLocks(), guard: newGuard()}
	c.Engine.Observe(s.changed)
	return s
}

// changed tells the log and the bus of a tunnel's transition.
func (s *Server) changed(ch engine.Change) {
	rec := s.timedOf(ch.Tunnel)
	st := ipcState(ch.Phase)
	end := rec.Start("log")
	s.c.Logger.Printf("%q is %s: %s", ch.Tunnel, st, ch.Message)
	end()
	if ch.Phase != engine.Up {
		end = rec.Start("health")
		s.followHealth(ch) // stop judging before anyone hears of the change
		end()
	}
	end = rec.Start("StateChanged")
	err := s.c.Conn.Emit(ipc.ObjectPath, ipc.Interface+"."+ipc.SignalStateChanged, ch.Tunnel, string(st), ch.Message)
	end()
	if err != nil {
		s.c.Logger.Printf("emit StateChanged: %v", err)
	}
	if ch.Phase == engine.Up {
		defer rec.Start("health")()
		s.followHealth(ch) // connected first, then its health
		if s.c.Claimer != nil {
			s.c.Claimer.Claim(ch.Tunnel)
		}
	}
}

// timing returns a Recorder for one call of method if Deps.Timing is set,
// and nil, which records nothing, otherwise.
func (s *Server) timing(method string) *spans.Recorder {
	if !s.c.Timing {
		return nil
	}
	return spans.New(method)
}

// timeChanges makes changed time its parts for tunnel into rec's
// "engine/signals/…" until the returned function is called. A nil rec
// does nothing.
func (s *Server) timeChanges(tunnel string, rec *spans.Recorder) (done func()) {
	if rec == nil {
		return func() {}
	}
	s.timedMu.Lock()
	defer s.timedMu.Unlock()
	if s.timed == nil {
		s.timed = map[string]*spans.Recorder{}
	}
	s.timed[tunnel] = rec.Sub("engine").Sub("signals")
	return func() {
		s.timedMu.Lock()
		defer s.timedMu.Unlock()
		delete(s.timed, tunnel)
	}
}

// timedOf returns the Recorder that changed times tunnel's parts into,
// or nil.
func (s *Server) timedOf(tunnel string) *spans.Recorder {
	if !s.c.Timing {
		return nil
	}
	s.timedMu.Lock()
	defer s.timedMu.Unlock()
	return s.timed[tunnel]
}

// ipcState names an engine phase as the contract does.
func ipcState(ph engine.Phase) ipc.State {
	switch ph {
	case engine.Connecting:
		return ipc.StateConnecting
	case engine.Up:
		return ipc.StateConnected
	case engine.Disconnecting:
		return ipc.StateDisconnecting
	}
	return ipc.StateDisconnected
}

// Export puts the object, its introspection and its read-only properties
// on the bus, then requests the well-known name — in that order, so that
// no client can see the name before the object answers.
func (s *Server) Export() error {
	conn := s.c.Conn
	if err := conn.Export(object{s}, ipc.ObjectPath, ipc.Interface); err != nil {
		return fmt.Errorf("export object: %w", err)
	}
	if err := conn.Export(introspect.Introspectable(ipc.IntrospectXML), ipc.ObjectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return fmt.Errorf("export introspection: %w", err)
	}
	lockdown := s.machine().Bool(options.Machine, options.Lockdown, false)
	blocking := false
	if b, ok := s.c.Engine.(Blocker); ok {
		blocking = b.Blocking()
	}
	props := prop.Map{ipc.Interface: {
		ipc.PropertyVersion:  {Value: s.c.Version, Writable: false, Emit: prop.EmitConst},
		ipc.PropertyLockdown: {Value: lockdown, Writable: false, Emit: prop.EmitTrue},
		ipc.PropertyBlocking: {Value: blocking, Writable: false, Emit: prop.EmitTrue},
	}}
	p, err := prop.Export(conn, ipc.ObjectPath, props)
	if err != nil {
		return fmt.Errorf("export properties: %w", err)
	}
	s.props = p
	reply, err := conn.RequestName(ipc.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("request name %s: %w", ipc.BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("the name %s is already taken: is another wgtray-helper running?", ipc.BusName)
	}
	return nil
}

// state returns name's state and last error, from the engine.
func (s *Server) state(name string) (ipc.State, string) {
	st := s.c.Engine.State(name)
	return ipcState(st.Phase), st.Err
}

// readConfig reads a stored config, with the errors clients get.
func (s *Server) readConfig(name string) ([]byte, error) {
	data, err := s.c.Store.Read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no tunnel %q", ipc.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read config of %q: %v", ipc.ErrFailed, name, err)
	}
	return data, nil
}

// loadConfig reads and parses a stored config.
func (s *Server) loadConfig(name string) (*config.Config, error) {
	data, err := s.readConfig(name)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ipc.ErrInvalidConfig, name, err)
	}
	return cfg, nil
}
