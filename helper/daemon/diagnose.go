package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/diagnose"
	"github.com/wgtray/wgtray/ipc"
)

// Diagnoser runs the checks of `wgtray doctor` (package diagnose's
// Gatherer).
type Diagnoser interface {
	Run(ctx context.Context, tunnels []diagnose.Tunnel, opts ipc.DiagnoseOptions, uid uint32) ipc.Report
}

// diagnoseTimeout bounds a Diagnose call: reading the machine, and the
// active probes of every tunnel, each bounded at ipc.ProbeTimeout.
const diagnoseTimeout = 45 * time.Second

// nobody is the uid route lookups are made for when the caller's cannot
// be learnt: rules selecting by uid then decide as for an unknown user.
const nobody = 65534

// Diagnose runs the checks of `wgtray doctor`. It changes nothing and
// asks no one's authorization: what it tells, `ip rule`, `ip route` and
// `nft list tables` tell any user, and it carries no key or config text.
// Its active probes are bounded, and one caller's run at a time.
func (o object) Diagnose(msg dbus.Message, name string, options map[string]dbus.Variant) (string, *dbus.Error) {
	leave, e := o.s.calls.enter(msg, ipc.MethodDiagnose)
	if e != nil {
		return "", e
	}
	defer leave()
	if name != "" {
		if e := checkName(name); e != nil {
			return "", e
		}
	}
	opts, err := ipc.DiagnoseOptionsFromMap(options)
	if err != nil {
		return "", ipc.ToDBus(err)
	}
	if o.s.c.Diagnoser == nil {
		return "", ipc.ToDBus(fmt.Errorf("%w: this helper cannot diagnose", ipc.ErrFailed))
	}
	var extra []ipc.Check
	names := o.s.c.Engine.Active()
	if name != "" {
		names = nil
		st, lastErr := o.s.state(name)
		switch {
		case st == ipc.StateConnected:
			names = []string{name}
		default:
			if _, err := o.s.readConfig(name); err != nil {
				return "", ipc.ToDBus(err)
			}
			c := ipc.Check{ID: "tunnel.state", Group: ipc.GroupHealth, Tunnel: name, Verdict: ipc.VerdictProblem,
				Summary: fmt.Sprintf("%s is %s: the leak, MTU and health checks need it connected.", name, st),
				Fix:     "wgtray connect " + name}
			if lastErr != "" {
				c.Details = []string{"last error: " + lastErr}
			}
			if st, err := o.s.status(name); err == nil && st.Blocking {
				c.Details = append(c.Details, "its kill switch's block still holds: nothing but the LAN gets out until it connects, or `wgtray disconnect "+name+"` lifts the block")
			}
			extra = append(extra, c)
		}
	}
	var tunnels []diagnose.Tunnel
	for _, n := range names {
		tunnels = append(tunnels, o.s.diagnoseTunnel(n))
	}
	ctx, cancel := context.WithTimeout(o.s.ctx, diagnoseTimeout)
	defer cancel()
	rep := o.s.c.Diagnoser.Run(ctx, tunnels, opts, o.callerUID(ctx, msg))
	rep.Checks = append(extra, rep.Checks...)
	s, err := rep.Encode()
	if err != nil {
		return "", ipc.ToDBus(fmt.Errorf("%w: %v", ipc.ErrFailed, err))
	}
	return s, nil
}

// diagnoseTunnel describes a connected tunnel for package diagnose.
func (s *Server) diagnoseTunnel(name string) diagnose.Tunnel {
	cfg, _ := s.loadConfig(name)
	dev, err := s.c.Devices.Device(name)
	if err != nil {
		dev = nil
	}
	t := diagnose.FromPlan(name, cfg, s.c.Engine.State(name).Plan, dev, s.c.NoLeakGuard)
	if st, err := s.status(name); err == nil {
		t.Status = st.ToMap()
	}
	_, t.BlockKnown = s.c.Engine.(Blocker)
	return t
}

// callerUID asks the bus who sent msg.
func (o object) callerUID(ctx context.Context, msg dbus.Message) uint32 {
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	var uid uint32
	if err := o.s.c.Conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, sender).Store(&uid); err != nil {
		return nobody
	}
	return uid
}
