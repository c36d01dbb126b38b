// Package daemon is the helper's D-Bus service: it exports the contract of
// package ipc on the system bus, authorizes every state change with polkit,
// serializes changes, and reports them with StateChanged signals.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/ipc"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Engine brings tunnels up and down (package engine).
type Engine interface {
	Up(ctx context.Context, link string, cfg *config.Config) (*plan.Plan, error)
	Down(ctx context.Context, link string) error
	Plan(link string) *plan.Plan
}

// Store holds the tunnels' configs (package store).
type Store interface {
	List() ([]string, error)
	Read(name string) ([]byte, error)
	Import(name string, data []byte) error
	Remove(name string) error
}

// Devices reads WireGuard device state (package wgdev).
type Devices interface {
	Device(name string) (*wgtypes.Device, error)
}

// Deps are what a Server works with: its bus connection, the engine, the
// config store, the devices, the authorizer and the logger, with the
// settings root started the helper with.
type Deps struct {
	Conn         *dbus.Conn
	Engine       Engine
	Store        Store
	Devices      Devices
	Auth         Authorizer
	Logger       *log.Logger
	Version      string
	AllowScripts bool
}

// Server is the exported helper object.
type Server struct {
	c   Deps
	ctx context.Context

	// opMu serializes every change of state: two Connects never interleave
	// and a Disconnect waits for a Connect in progress.
	opMu sync.Mutex

	mu     sync.Mutex
	states map[string]*tunnelState
}

type tunnelState struct {
	state   ipc.State
	lastErr string
}

// New returns a server; ctx bounds the work of method calls.
func New(ctx context.Context, c Deps) *Server {
	return &Server{c: c, ctx: ctx, states: map[string]*tunnelState{}}
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
	props := prop.Map{ipc.Interface: {
		"Version": {Value: s.c.Version, Writable: false, Emit: prop.EmitConst},
	}}
	if _, err := prop.Export(conn, ipc.ObjectPath, props); err != nil {
		return fmt.Errorf("export properties: %w", err)
	}
	reply, err := conn.RequestName(ipc.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("request name %s: %w", ipc.BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("the name %s is already taken: is another wgtray-helper running?", ipc.BusName)
	}
	return nil
}

func (s *Server) state(name string) (ipc.State, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.states[name]; t != nil {
		return t.state, t.lastErr
	}
	return ipc.StateDisconnected, ""
}

// setState records a transition and signals it.
func (s *Server) setState(name string, st ipc.State, lastErr, message string) {
	s.mu.Lock()
	t := s.states[name]
	if t == nil {
		t = &tunnelState{}
		s.states[name] = t
	}
	t.state = st
	if st == ipc.StateConnecting {
		t.lastErr = ""
	}
	if lastErr != "" {
		t.lastErr = lastErr
	}
	s.mu.Unlock()
	s.c.Logger.Printf("%q is %s: %s", name, st, message)
	if err := s.c.Conn.Emit(ipc.ObjectPath, ipc.Interface+"."+ipc.SignalStateChanged, name, string(st), message); err != nil {
		s.c.Logger.Printf("emit StateChanged: %v", err)
	}
}

func (s *Server) connected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, t := range s.states {
		if t.state == ipc.StateConnected {
			out = append(out, n)
		}
	}
	return out
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

// connect brings name up, first taking down another full tunnel.
func (s *Server) connect(name string) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if st, _ := s.state(name); st == ipc.StateConnected {
		return nil
	}
	cfg, err := s.loadConfig(name)
	if err != nil {
		return err
	}
	if cfg.HasScripts() && !s.c.AllowScripts {
		return fmt.Errorf("%w: %v", ipc.ErrScriptsDisabled, plan.ErrScriptsDisabled)
	}
	if cfg.FullTunnel() {
		for _, other := range s.connected() {
			if p := s.c.Engine.Plan(other); p != nil && p.FullTunnel {
				s.disconnectLocked(other, fmt.Sprintf("disconnected because full tunnel %q is connecting", name))
			}
		}
	}
	s.setState(name, ipc.StateConnecting, "", "connecting")
	if _, err := s.c.Engine.Up(s.ctx, name, cfg); err != nil {
		msg := err.Error()
		s.setState(name, ipc.StateDisconnected, msg, "failed: "+msg)
		if errors.Is(err, plan.ErrScriptsDisabled) {
			return fmt.Errorf("%w: %v", ipc.ErrScriptsDisabled, err)
		}
		return fmt.Errorf("%w: connect %q: %v", ipc.ErrFailed, name, err)
	}
	s.setState(name, ipc.StateConnected, "", "connected")
	return nil
}

func (s *Server) disconnect(name, message string) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return s.disconnectLocked(name, message)
}

func (s *Server) disconnectLocked(name, message string) error {
	if st, _ := s.state(name); st == ipc.StateDisconnected {
		return nil
	}
	s.setState(name, ipc.StateDisconnecting, "", "disconnecting")
	if err := s.c.Engine.Down(s.ctx, name); err != nil {
		msg := err.Error()
		s.setState(name, ipc.StateDisconnected, msg, "disconnected with errors: "+msg)
		return fmt.Errorf("%w: disconnect %q: %v", ipc.ErrFailed, name, err)
	}
	s.setState(name, ipc.StateDisconnected, "", message)
	return nil
}

// LinkGone handles a tunnel's interface disappearing underneath the
// helper: the rest of what Up added is removed and clients are told.
func (s *Server) LinkGone(link string) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if st, _ := s.state(link); st != ipc.StateConnected {
		return // our own Disconnect, or not ours
	}
	s.disconnectLocked(link, fmt.Sprintf("interface %s disappeared", link))
}

// Shutdown takes every tunnel down.
func (s *Server) Shutdown(ctx context.Context) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	var errs []error
	for _, n := range s.connected() {
		errs = append(errs, s.disconnectLocked(n, "helper stopping"))
	}
	return errors.Join(errs...)
}
