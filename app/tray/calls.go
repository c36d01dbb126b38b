package tray

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/app/tunnelname"
	"github.com/wgtray/wgtray/ipc"
)

// errNoAnswer is a call that reached its deadline.
var errNoAnswer = errors.New("wgtray-helper did not answer")

// background runs call in a goroutine of its own, bounded by timeout, and
// then done, on the run goroutine, with call's error: a deadline reached
// becomes errNoAnswer, saying how long it waited. call hands its results
// to done through variables both close over; the channel orders them.
func (a *App) background(ctx context.Context, timeout time.Duration, call func(context.Context) error, done func(error)) {
	go func() {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := call(cctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w within %s", errNoAnswer, present.Wait(timeout))
		}
		select {
		case a.do <- func() { done(err) }:
		case <-ctx.Done():
		}
	}()
}

// dial connects to the system bus and subscribes to the helper's signals,
// in the background; then it loads the tunnels. A dial that fails is
// tried again later, sooner if the user clicks or opens the menu.
func (a *App) dial(ctx context.Context) {
	if a.helper != nil || a.dialing {
		return
	}
	a.dialing = true
	a.stopRedial()
	var c *ipc.Client
	var events <-chan ipc.Event
	a.background(ctx, a.timeouts.Read, func(cctx context.Context) error {
		var err error
		if c, err = ipc.Dial(cctx); err != nil {
			return err
		}
		// Watch lives as long as the app, not the deadline: it bounds
		// its own subscribing.
		if events, err = c.Watch(ctx); err != nil {
			c.Close()
			c = nil
			return err
		}
		return nil
	}, func(err error) {
		a.dialing = false
		waiting := a.afterDial
		a.afterDial = nil
		if err != nil {
			a.logger.Printf("system bus: %v", err)
			a.helperDown()
			a.scheduleRedial(ctx)
		} else {
			a.helper, a.events, a.backoff = c, events, 0
			a.reload(ctx)
		}
		for _, f := range waiting {
			f(err)
		}
	})
}

// whenDialled runs f once the system bus is reached, or with the dial's
// error; at once if it is.
func (a *App) whenDialled(ctx context.Context, f func(error)) {
	if a.helper != nil {
		f(nil)
		return
	}
	a.afterDial = append(a.afterDial, f)
	a.dial(ctx)
}

// busLost handles the end of the helper's signals, which is the system
// bus connection closing (dbus-daemon restarted, say): dial again.
func (a *App) busLost(ctx context.Context) {
	a.events = nil
	if a.helper != nil {
		a.helper.Close()
		a.helper = nil
	}
	a.logger.Print("the system bus connection closed; connecting again")
	a.helperDown()
	a.dial(ctx)
}

func (a *App) scheduleRedial(ctx context.Context) {
	a.stopRedial()
	if a.backoff == 0 {
		a.backoff = redialFirst
	} else {
		a.backoff = min(2*a.backoff, redialMax)
	}
	a.redial = time.NewTimer(a.backoff)
	a.redialC = a.redial.C
}

func (a *App) stopRedial() {
	if a.redial != nil {
		a.redial.Stop()
		a.redial, a.redialC = nil, nil
	}
}

// retry tries to reach the helper again if it is not answering: the user
// opened the menu or clicked its "not running" line. A List starts a
// helper that is not running (D-Bus activation).
func (a *App) retry(ctx context.Context) {
	if a.model.HelperUp {
		return
	}
	if a.helper == nil {
		a.backoff = 0
		a.dial(ctx) // which reloads
		return
	}
	a.reload(ctx)
}

// reload reads the tunnel list, and then the status of the connected
// ones. One List runs at a time; one asked for meanwhile runs after it,
// since a signal may be newer than the answer in flight.
func (a *App) reload(ctx context.Context) {
	if a.helper == nil {
		a.dial(ctx)
		return
	}
	if a.listing {
		a.relist = true
		return
	}
	a.listing = true
	c := a.helper
	var ts []ipc.Tunnel
	a.background(ctx, a.timeouts.Read, func(ctx context.Context) error {
		var err error
		ts, err = c.List(ctx)
		return err
	}, func(err error) {
		a.listing = false
		if c != a.helper {
			return // an answer from a connection closed since
		}
		if err != nil {
			a.logger.Printf("list tunnels: %v", err)
			a.helperDown()
		} else {
			a.model.HelperUp = true
			a.model.SetList(ts)
			a.connectAtLogin(ctx)
			a.refreshBlock(ctx)
			if a.downShown {
				a.notify(noticeHelper(true))
				a.downShown = false
			}
			a.refreshStats(ctx)
		}
		if a.relist {
			a.relist = false
			a.reload(ctx)
		}
	})
}

// refreshStats reads the status of the connected tunnels. One refresh
// runs at a time: a helper slow to answer is not asked again meanwhile.
func (a *App) refreshStats(ctx context.Context) {
	if a.helper == nil || a.statting {
		return
	}
	var names []string
	for _, t := range a.model.Tunnels {
		if t.State == ipc.StateConnected {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	a.statting = true
	c := a.helper
	got := map[string]ipc.Status{}
	var failed string
	a.background(ctx, a.timeouts.Read, func(ctx context.Context) error {
		for _, n := range names {
			st, err := c.Status(ctx, n)
			if err != nil {
				failed = n
				return err
			}
			got[n] = st
		}
		return nil
	}, func(err error) {
		a.statting = false
		if err != nil {
			a.logger.Printf("status of %q: %v", failed, err)
		}
		if c != a.helper {
			return
		}
		a.applyStats(got)
	})
}

// applyStats puts statuses into the model, with the health the helper
// judged (which a tray started during a stall learns here).
func (a *App) applyStats(got map[string]ipc.Status) {
	for i := range a.model.Tunnels {
		t := &a.model.Tunnels[i]
		if t.State != ipc.StateConnected {
			a.clearHealth(t)
			continue
		}
		st, ok := got[t.Name]
		if !ok {
			continue
		}
		t.Endpoint, t.Handshake, t.Rx, t.Tx = st.Endpoint, st.LastHandshake, st.RxBytes, st.TxBytes
		t.DNS, t.Blocked = st.DNSManager, st.LeakGuard
		t.FullTunnel, t.KillSwitch, t.Blocking = st.FullTunnel, st.KillSwitch, st.Blocking
		if st.Health != "" {
			a.setHealth(t, st.Health, st.HealthPeer, st.HealthSince)
		}
	}
}

// toggle connects or disconnects in the background. Connect can wait for
// a password dialog; the tunnel's line says so meanwhile and the rest of
// the menu keeps working. A helper that is not running is started by the
// call itself (D-Bus activation).
func (a *App) toggle(ctx context.Context, name string, connected bool) {
	a.model.Attempt(ActionConnect, name)
	verb := "connect"
	if connected {
		verb = "disconnect"
	}
	if a.helper == nil {
		a.model.SetPending(name, true)
		a.whenDialled(ctx, func(err error) {
			a.model.SetPending(name, false)
			if err != nil {
				a.actionDone(ActionConnect, name, verb, fmt.Errorf("no connection to the system bus: %w", err))
				return
			}
			a.toggle(ctx, name, connected)
		})
		return
	}
	a.model.SetPending(name, true)
	c := a.helper
	a.background(ctx, a.timeouts.Change, func(ctx context.Context) error {
		if connected {
			return c.Disconnect(ctx, name)
		}
		return c.Connect(ctx, name)
	}, func(err error) {
		a.model.SetPending(name, false)
		a.actionDone(ActionConnect, name, verb, err)
	})
}

// actionDone records a Connect's or Disconnect's result. Failures of the
// tunnel itself were announced by the helper's StateChanged; the rest
// (refusals, no answer, no such tunnel…) never reached a state change, so
// they are announced here.
func (a *App) actionDone(action Action, name, verb string, err error) {
	switch {
	case err == nil:
	case a.model.Refuse(action, name, err):
		if errors.Is(err, ipc.ErrScriptsDisabled) {
			a.notify(Notice{Key: name, Summary: "Could not " + verb + " " + name, Body: err.Error(), Urgent: true})
			return
		}
		a.notify(Notice{Key: name, Summary: "Not allowed to connect tunnels", Body: "Ask to be added to group wgtray.", Urgent: true})
	case errors.Is(err, ipc.ErrFailed):
		a.model.Failed = err.Error()
	default:
		a.model.Failed = verb + " " + name + ": " + err.Error()
		a.notify(Notice{Key: name, Summary: "Could not " + verb + " " + name, Body: err.Error(), Urgent: true})
	}
}

// startImport asks for a file, reads it as the user and sends its text
// to the helper, each step off the run goroutine.
func (a *App) startImport(ctx context.Context) {
	a.model.Attempt(ActionImport, "")
	go func() {
		path, err := ChooseFile(ctx, a.signalConn(), "Import WireGuard tunnel")
		select {
		case a.do <- func() { a.chosen(ctx, path, err) }:
		case <-ctx.Done():
		}
	}()
}

// chosen imports the file the user chose.
func (a *App) chosen(ctx context.Context, path string, err error) {
	if err != nil {
		a.notify(Notice{Key: "import", Summary: "Import failed", Body: err.Error(), Urgent: true})
		return
	}
	if path == "" {
		return // cancelled
	}
	a.whenDialled(ctx, func(err error) {
		if err != nil {
			a.imported(ctx, path, "", fmt.Errorf("no connection to the system bus: %w", err))
			return
		}
		c := a.helper
		name := tunnelname.FromFile(path)
		a.background(ctx, a.timeouts.Change, func(ctx context.Context) error {
			return importPath(ctx, c, path, name)
		}, func(err error) { a.imported(ctx, path, name, err) })
	})
}

func (a *App) imported(ctx context.Context, path, name string, err error) {
	switch {
	case err == nil:
		a.notify(Notice{Key: "import", Summary: "Imported tunnel " + name})
		a.reload(ctx)
	case a.model.Refuse(ActionImport, "", err) && errors.Is(err, ipc.ErrAccessDenied):
		a.notify(Notice{Key: "import", Summary: "Not allowed to import tunnels", Body: "Ask to be added to group wgtray.", Urgent: true})
	default:
		a.notify(Notice{Key: "import", Summary: "Could not import " + path, Body: err.Error(), Urgent: true})
	}
}

// importPath reads path as the user and imports it as name.
func importPath(ctx context.Context, c *ipc.Client, path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) > ipc.MaxConfigSize {
		return fmt.Errorf("%s is larger than %d KiB", path, ipc.MaxConfigSize/1024)
	}
	return c.Import(ctx, name, string(data))
}
