package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/ipc"
)

// Options keeps wgtray's own settings (package options): per tunnel,
// beside its config, and machine-wide.
type Options interface {
	TunnelValues(name string) (options.Values, error)
	SetTunnel(name, key, value string) error
	RemoveTunnel(name string) error
	MachineValues() (options.Values, error)
	SetMachine(key, value string) error
}

// Blocker is the engine's kill switch and lockdown, when it has them.
type Blocker interface {
	// SetKillSwitch makes tunnel link (up or not) block or stop
	// blocking; allowLAN is its allow-lan.
	SetKillSwitch(ctx context.Context, link string, on, allowLAN bool) error
	// Unblock removes a block a tunnel that is down still holds: kept
	// after a crash, a failed connect or the helper's restart.
	Unblock(ctx context.Context, link string) error
	// SetLockdown holds the block, or stops holding it, with no tunnel.
	SetLockdown(ctx context.Context, on, allowLAN bool) error
	// Blocking says whether the block is in the kernel now.
	Blocking() bool
	// TunnelBlocking says whether link's block is in the kernel now.
	TunnelBlocking(link string) bool
	// DownKeep takes link down but keeps its block.
	DownKeep(ctx context.Context, link, why string) error
}

// tunnelSettings are a tunnel's effective kill-switch settings.
type tunnelSettings struct {
	killSwitch, allowLAN bool
}

// settings reads name's options: kill-switch is on by default for a full
// tunnel and never applies to a split one.
func (s *Server) settings(name string, cfg *config.Config) tunnelSettings {
	v := options.Values{}
	if s.c.Options != nil {
		var err error
		if v, err = s.c.Options.TunnelValues(name); err != nil {
			// Unreadable: fail closed for a full tunnel, as its default.
			s.c.Logger.Printf("options of %q: %v", name, err)
			v = options.Values{}
		}
	}
	full := cfg != nil && cfg.FullTunnel()
	return tunnelSettings{
		killSwitch: full && v.Bool(options.Tunnel, options.KillSwitch, true),
		allowLAN:   v.Bool(options.Tunnel, options.AllowLAN, true),
	}
}

// TunnelSettings answers what the engine asks of a tunnel it connects:
// whether it gets the kill switch, and with allow-lan.
func (s *Server) TunnelSettings(name string, cfg *config.Config) (killSwitch, allowLAN bool) {
	st := s.settings(name, cfg)
	return st.killSwitch, st.allowLAN
}

// machine reads the machine-wide options.
func (s *Server) machine() options.Values {
	if s.c.Options == nil {
		return options.Values{}
	}
	v, err := s.c.Options.MachineValues()
	if err != nil {
		s.c.Logger.Printf("machine-wide options: %v", err)
		return options.Values{}
	}
	return v
}

// SetTunnelOption sets one of wgtray's settings of a stored tunnel.
func (o object) SetTunnelOption(msg dbus.Message, name, key, value string) *dbus.Error {
	leave, e := o.s.calls.enter(msg, ipc.MethodSetTunnelOption)
	if e != nil {
		return e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return e
	}
	if err := options.Check(options.Tunnel, key, value); err != nil {
		return ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrInvalidArgs, err))
	}
	if e := o.authorize(msg, ActionManage); e != nil {
		return e
	}
	ctx, cancel := context.WithTimeout(o.s.ctx, changeTimeout)
	defer cancel()
	return toDBus(o.s.setTunnelOption(ctx, name, key, value))
}

func (s *Server) setTunnelOption(ctx context.Context, name, key, value string) error {
	if s.c.Options == nil {
		return fmt.Errorf("%w: this helper keeps no options", ipc.ErrFailed)
	}
	release, err := s.lockUp(ctx, "set option of", name)
	if err != nil {
		return err
	}
	defer release()
	cfg, err := s.loadConfig(name)
	if err != nil {
		return err
	}
	before := s.settings(name, cfg)
	if err := s.c.Options.SetTunnel(name, key, value); err != nil {
		if errors.Is(err, options.ErrInvalid) {
			return fmt.Errorf("%w: %v", ipc.ErrInvalidArgs, err)
		}
		return fmt.Errorf("%w: set %s of %q: %v", ipc.ErrFailed, key, name, err)
	}
	s.c.Logger.Printf("option %s of %q set to %s", key, name, value)
	if key == options.Autoconnect {
		s.refreshAutoconnect()
	}
	after := s.settings(name, cfg)
	b, ok := s.c.Engine.(Blocker)
	if !ok || after == before {
		return nil
	}
	if err := b.SetKillSwitch(ctx, name, after.killSwitch, after.allowLAN); err != nil {
		return fmt.Errorf("%w: %s of %q is stored, but the firewall did not follow: %v", ipc.ErrFailed, key, name, err)
	}
	s.blockingChanged()
	return nil
}

// SetOption sets a machine-wide setting.
func (o object) SetOption(msg dbus.Message, key, value string) *dbus.Error {
	leave, e := o.s.calls.enter(msg, ipc.MethodSetOption)
	if e != nil {
		return e
	}
	defer leave()
	if err := options.Check(options.Machine, key, value); err != nil {
		return ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrInvalidArgs, err))
	}
	if e := o.authorize(msg, ActionManage); e != nil {
		return e
	}
	ctx, cancel := context.WithTimeout(o.s.ctx, changeTimeout)
	defer cancel()
	return toDBus(o.s.setOption(ctx, key, value))
}

func (s *Server) setOption(ctx context.Context, key, value string) error {
	if s.c.Options == nil {
		return fmt.Errorf("%w: this helper keeps no options", ipc.ErrFailed)
	}
	s.machineMu.Lock()
	defer s.machineMu.Unlock()
	if err := s.c.Options.SetMachine(key, value); err != nil {
		if errors.Is(err, options.ErrInvalid) {
			return fmt.Errorf("%w: %v", ipc.ErrInvalidArgs, err)
		}
		return fmt.Errorf("%w: set %s: %v", ipc.ErrFailed, key, err)
	}
	s.c.Logger.Printf("option %s set to %s", key, value)
	if err := s.applyLockdown(ctx); err != nil {
		return err
	}
	return nil
}

// applyLockdown makes the engine's lockdown follow the machine-wide
// options, and the properties tell it.
func (s *Server) applyLockdown(ctx context.Context) error {
	m := s.machine()
	on := m.Bool(options.Machine, options.Lockdown, false)
	lan := m.Bool(options.Machine, options.LockdownAllowLAN, true)
	s.setProp(ipc.PropertyLockdown, on)
	if b, ok := s.c.Engine.(Blocker); ok {
		if err := b.SetLockdown(ctx, on, lan); err != nil {
			return fmt.Errorf("%w: lockdown is stored as %v, but the firewall did not follow: %v", ipc.ErrFailed, on, err)
		}
	}
	s.blockingChanged()
	return nil
}

// blockingChanged updates the Blocking property from the engine.
func (s *Server) blockingChanged() {
	b, ok := s.c.Engine.(Blocker)
	if !ok || s.props == nil {
		return
	}
	s.setProp(ipc.PropertyBlocking, b.Blocking())
}

// setProp sets a property of ours if it changed; PropertiesChanged tells
// clients. A bus gone away is only logged.
func (s *Server) setProp(name string, v bool) {
	if s.props == nil {
		return
	}
	if cur, err := s.props.Get(ipc.Interface, name); err == nil {
		if b, ok := cur.Value().(bool); ok && b == v {
			return
		}
	}
	// SetMust is prop's only setter of read-only properties; it panics
	// when the signal cannot be sent (the connection closing).
	defer func() {
		if r := recover(); r != nil {
			s.c.Logger.Printf("property %s: %v", name, r)
		}
	}()
	s.props.SetMust(ipc.Interface, name, v)
}

// BlockRepaired tells the log and the clients that the block was put
// back after another program removed it.
func (s *Server) BlockRepaired(message string) {
	s.c.Logger.Print(message)
	if err := s.c.Conn.Emit(ipc.ObjectPath, ipc.Interface+"."+ipc.SignalBlockRepaired, message); err != nil {
		s.c.Logger.Printf("emit BlockRepaired: %v", err)
	}
	s.blockingChanged()
}

// tunnelBlocking says whether name's block holds now.
func (s *Server) tunnelBlocking(name string) bool {
	b, ok := s.c.Engine.(Blocker)
	return ok && b.TunnelBlocking(name)
}

// downKeeping takes name down keeping its kill switch, where the engine
// has one: for every way down that the user did not ask for.
func (s *Server) downKeeping(ctx context.Context, name, message string) error {
	b, ok := s.c.Engine.(Blocker)
	if !ok {
		return s.disconnectLocked(ctx, name, message)
	}
	if err := b.DownKeep(ctx, name, message); err != nil {
		return fmt.Errorf("%w: disconnect %q: %v", ipc.ErrFailed, name, err)
	}
	s.blockingChanged()
	return nil
}

// unblock removes name's kept block, after the user's own Disconnect or
// Remove.
func (s *Server) unblock(ctx context.Context, name string) error {
	b, ok := s.c.Engine.(Blocker)
	if !ok {
		return nil
	}
	defer s.blockingChanged()
	if err := b.Unblock(ctx, name); err != nil {
		return fmt.Errorf("%w: %v", ipc.ErrFailed, err)
	}
	return nil
}
