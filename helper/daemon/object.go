package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/ipc"
)

// object carries exactly the methods of the org.wgtray.Helper1 interface;
// godbus exports every method of the value it is given.
type object struct{ s *Server }

// Deadlines of the work one method call does. A call that asks polkit to
// prompt waits for a person typing a password; one that does not waits
// only for polkitd. A change may run hooks and talk to resolved.
const (
	authTimeout            = 10 * time.Second
	interactiveAuthTimeout = 2 * time.Minute
	changeTimeout          = 2 * time.Minute
)

// authorize asks whether the caller of msg may perform action. polkit may
// prompt for a password only if the caller said it can wait for one (the
// ALLOW_INTERACTIVE_AUTHORIZATION flag), as the D-Bus specification asks.
func (o object) authorize(msg dbus.Message, action string) *dbus.Error {
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	interactive := msg.Flags&dbus.FlagAllowInteractiveAuthorization != 0
	timeout := authTimeout
	if interactive {
		timeout = interactiveAuthTimeout
	}
	ctx, cancel := context.WithTimeout(o.s.ctx, timeout)
	defer cancel()
	if err := o.s.c.Auth.Authorize(ctx, sender, action, interactive); err != nil {
		o.s.c.Logger.Printf("denied %s to %q: %v", action, sender, err)
		return ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrAccessDenied, err))
	}
	return nil
}

func checkName(name string) *dbus.Error {
	if err := ipc.ValidName(name); err != nil {
		return ipc.ToDBus(fmt.Errorf("%w: %q: %v", ipc.ErrInvalidName, name, err))
	}
	return nil
}

// List returns every stored tunnel with its state, sorted by name. Like
// Status and GetConfig it takes no lock: it answers from the state of the
// moment, in which a tunnel being changed is connecting or disconnecting.
func (o object) List(msg dbus.Message) ([]ipc.Tunnel, *dbus.Error) {
	leave, e := o.s.calls.enter(msg, ipc.MethodList)
	if e != nil {
		return nil, e
	}
	defer leave()
	names, err := o.s.c.Store.List()
	if err != nil {
		return nil, ipc.ToDBus(fmt.Errorf("%w: list tunnels: %v", ipc.ErrFailed, err))
	}
	slices.Sort(names)
	out := make([]ipc.Tunnel, 0, len(names))
	for _, n := range names {
		st, _ := o.s.state(n)
		out = append(out, ipc.Tunnel{Name: n, State: st})
	}
	return out, nil
}

// Status describes one tunnel.
func (o object) Status(msg dbus.Message, name string) (map[string]dbus.Variant, *dbus.Error) {
	leave, e := o.s.calls.enter(msg, ipc.MethodStatus)
	if e != nil {
		return nil, e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return nil, e
	}
	st, err := o.s.status(name)
	if err != nil {
		return nil, ipc.ToDBus(err)
	}
	return st.ToMap(), nil
}

// Connect brings a tunnel up. A config with hooks needs ActionManageScripts
// too, asked before any lock is taken: a password prompt must not hold up
// other changes.
func (o object) Connect(msg dbus.Message, name string) *dbus.Error {
	rec := o.s.timing(ipc.MethodConnect)
	defer rec.Finish(o.s.c.Logger)
	defer o.s.timeChanges(name, rec)()
	leave, e := o.s.calls.enter(msg, ipc.MethodConnect)
	if e != nil {
		return e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return e
	}
	end := rec.Start("polkit")
	e = o.authorize(msg, ActionConnect)
	end()
	if e != nil {
		return e
	}
	end = rec.Start("config")
	cfg, err := o.s.loadConfig(name)
	end()
	if err != nil {
		return ipc.ToDBus(err)
	}
	scriptsOK := false
	if cfg.HasScripts() {
		if !o.s.c.AllowScripts {
			return ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrScriptsDisabled, plan.ErrScriptsDisabled))
		}
		if e := o.authorize(msg, ActionManageScripts); e != nil {
			return e
		}
		scriptsOK = true
	}
	ctx, cancel := context.WithTimeout(spans.With(o.s.ctx, rec), changeTimeout)
	defer cancel()
	// The wish is written while the tunnel comes up rather than after
	// it: the write (a file created and renamed in /var/lib) then costs
	// the caller nothing, and the reply still waits for it. A Connect
	// that fails takes back a wish it added.
	had := o.s.wantedUp(name)
	wished := make(chan struct{})
	go func() {
		defer close(wished)
		defer rec.Sub("alongside").Start("wanted")()
		o.s.want(name, true)
	}()
	err = o.s.connect(ctx, name, scriptsOK, cfg)
	end = rec.Start("wanted wait")
	<-wished
	end()
	if err != nil && !had {
		o.s.want(name, false)
	}
	return toDBus(err)
}

// Disconnect takes a tunnel down; a tunnel that is down is not an error.
func (o object) Disconnect(msg dbus.Message, name string) *dbus.Error {
	rec := o.s.timing(ipc.MethodDisconnect)
	defer rec.Finish(o.s.c.Logger)
	defer o.s.timeChanges(name, rec)()
	leave, e := o.s.calls.enter(msg, ipc.MethodDisconnect)
	if e != nil {
		return e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return e
	}
	end := rec.Start("polkit")
	e = o.authorize(msg, ActionConnect)
	end()
	if e != nil {
		return e
	}
	end = rec.Start("config")
	_, err := o.s.c.Store.Read(name)
	end()
	if errors.Is(err, fs.ErrNotExist) {
		// A kill switch kept for a config deleted since is still the
		// user's to lift with Disconnect.
		if st, _ := o.s.state(name); st == ipc.StateDisconnected && !o.s.tunnelBlocking(name) {
			return ipc.ToDBus(fmt.Errorf("%w: no tunnel %q", ipc.ErrNotFound, name))
		}
	}
	ctx, cancel := context.WithTimeout(spans.With(o.s.ctx, rec), changeTimeout)
	defer cancel()
	end = rec.Start("wanted")
	o.s.want(name, false) // whatever becomes of the disconnect
	end()
	return toDBus(o.s.disconnect(ctx, name, "disconnected"))
}

// Import validates and stores a config. One with hooks needs
// ActionManageScripts as well as ActionManage.
func (o object) Import(msg dbus.Message, name, text string) *dbus.Error {
	leave, e := o.s.calls.enter(msg, ipc.MethodImport)
	if e != nil {
		return e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return e
	}
	// Refused before polkit is asked: an unprivileged caller must not make
	// the root helper hold megabytes for the length of a password prompt.
	if len(text) > ipc.MaxConfigSize {
		return ipc.ToDBus(fmt.Errorf("%w: the config is larger than %d KiB", ipc.ErrInvalidConfig, ipc.MaxConfigSize/1024))
	}
	if e := o.authorize(msg, ActionManage); e != nil {
		return e
	}
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		return ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrInvalidConfig, err))
	}
	if cfg.HasScripts() {
		if e := o.authorize(msg, ActionManageScripts); e != nil {
			return e
		}
	}
	err = o.s.c.Store.Import(name, []byte(text))
	var perr *config.ParseError
	switch {
	case err == nil:
		o.s.c.Logger.Printf("imported %q", name)
		if o.s.c.Options != nil {
			// A new tunnel (Import never replaces one): options under its
			// name are a removed one's, left by hand.
			if err := o.s.c.Options.RemoveTunnel(name); err != nil {
				o.s.c.Logger.Printf("remove stale options of %q: %v", name, err)
			}
		}
		return nil
	case errors.As(err, &perr):
		return ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrInvalidConfig, perr))
	case errors.Is(err, fs.ErrExist):
		return ipc.ToDBus(fmt.Errorf("%w: a tunnel named %q exists", ipc.ErrExists, name))
	}
	return ipc.ToDBus(fmt.Errorf("%w: import %q: %v", ipc.ErrFailed, name, err))
}

// Remove disconnects a tunnel if needed and deletes its config.
func (o object) Remove(msg dbus.Message, name string) *dbus.Error {
	leave, e := o.s.calls.enter(msg, ipc.MethodRemove)
	if e != nil {
		return e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return e
	}
	if e := o.authorize(msg, ActionManage); e != nil {
		return e
	}
	ctx, cancel := context.WithTimeout(o.s.ctx, changeTimeout)
	defer cancel()
	o.s.want(name, false)
	return toDBus(o.s.remove(ctx, name))
}

// GetConfig returns the stored config with its secrets hidden.
func (o object) GetConfig(msg dbus.Message, name string) (string, *dbus.Error) {
	leave, e := o.s.calls.enter(msg, ipc.MethodGetConfig)
	if e != nil {
		return "", e
	}
	defer leave()
	if e := checkName(name); e != nil {
		return "", e
	}
	if e := o.authorize(msg, ActionManage); e != nil {
		return "", e
	}
	data, err := o.s.readConfig(name)
	if err != nil {
		return "", ipc.ToDBus(err)
	}
	return config.Redact(data), nil
}

func toDBus(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	return ipc.ToDBus(err)
}

// status assembles the Status of name from the stored config and, when it
// is up, the live device.
func (s *Server) status(name string) (ipc.Status, error) {
	st, lastErr := s.state(name)
	out := ipc.Status{Name: name, State: st, Error: lastErr}
	cfg, err := s.loadConfig(name)
	if err != nil && st == ipc.StateDisconnected {
		return out, err
	}
	ks := s.settings(name, cfg)
	out.KillSwitch, out.AllowLAN = ks.killSwitch, ks.allowLAN
	out.Autoconnect = s.autoconnect(name)
	out.Blocking = s.tunnelBlocking(name)
	if cfg != nil {
		out.PublicKey = cfg.Interface.PrivateKey.PublicKey().String()
		out.FullTunnel = cfg.FullTunnel()
		for _, p := range cfg.Peers {
			out.Peers = append(out.Peers, p.PublicKey.String())
		}
		for _, a := range cfg.Interface.Addresses {
			out.Addresses = append(out.Addresses, a.String())
		}
		for _, a := range cfg.Interface.DNS {
			out.DNS = append(out.DNS, a.String())
		}
		out.DNS = append(out.DNS, cfg.Interface.DNSSearch...)
		for _, p := range cfg.Peers {
			if p.Endpoint != nil {
				out.Endpoint = joinHostPort(p.Endpoint.Host, p.Endpoint.Port)
				break
			}
		}
	}
	if st != ipc.StateConnected {
		return out, nil
	}
	out.Interface = name
	s.statusHealth(&out)
	if p := s.c.Engine.State(name).Plan; p != nil {
		out.FullTunnel = p.FullTunnel
		if p.DNS != nil {
			out.DNSManager = p.DNS.Manager
			// Truthful: a resolv.conf that another program replaced
			// no longer has the tunnel's servers.
			if s.c.DNS != nil {
				if note := s.c.DNS.DNSNote(p.DNS.Manager); note != "" {
					out.DNSManager += " (" + note + ")"
				}
			}
		}
		for _, f := range p.Blocked {
			out.LeakGuard = append(out.LeakGuard, f.Name())
		}
		out.LeakGuardSkipped = p.Unguarded
	}
	dev, err := s.c.Devices.Device(name)
	if err != nil {
		return out, nil // racing a disconnect: the config's view will do
	}
	out.PublicKey = dev.PublicKey.String()
	for _, p := range dev.Peers {
		if p.Endpoint != nil && out.Endpoint == "" {
			out.Endpoint = p.Endpoint.String()
		}
		if !p.LastHandshakeTime.IsZero() && p.LastHandshakeTime.Unix() > out.LastHandshake {
			out.LastHandshake = p.LastHandshakeTime.Unix()
		}
		out.RxBytes += uint64(p.ReceiveBytes)
		out.TxBytes += uint64(p.TransmitBytes)
	}
	if len(dev.Peers) > 0 && dev.Peers[0].Endpoint != nil {
		out.Endpoint = dev.Peers[0].Endpoint.String()
	}
	return out, nil
}

func joinHostPort(host string, port uint16) string {
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a, port).String()
	}
	return fmt.Sprintf("%s:%d", host, port)
}
