package tray

import (
	"context"
	"errors"
	"fmt"

	"github.com/wgtray/wgtray/ipc"
)

// The kill switch and lockdown in the tray: the checkable lines call
// SetTunnelOption and SetOption; the helper's Lockdown and Blocking
// properties, read after every list and change, make the icon say
// "blocked" when the block holds with no working tunnel.

// noticeBlocked is shown once each time the machine becomes blocked.
func noticeBlocked() Notice {
	return Notice{Key: "blocked", Summary: "Traffic is blocked", Body: "No tunnel is working and the kill switch or lockdown blocks everything else. Connect a tunnel, or disconnect to lift the block.", Urgent: true}
}

// refreshBlock reads the Lockdown and Blocking properties, and the
// status of every tunnel so that full tunnels show their kill switch.
func (a *App) refreshBlock(ctx context.Context) {
	if a.helper == nil {
		return
	}
	c := a.helper
	names := make([]string, 0, len(a.model.Tunnels))
	for _, t := range a.model.Tunnels {
		names = append(names, t.Name)
	}
	var lockdown, blocking bool
	got := map[string]ipc.Status{}
	a.background(ctx, a.timeouts.Read, func(ctx context.Context) error {
		var err error
		if lockdown, blocking, err = c.Lockdown(ctx); err != nil {
			return err
		}
		for _, n := range names {
			if st, err := c.Status(ctx, n); err == nil {
				got[n] = st
			}
		}
		return nil
	}, func(err error) {
		if c != a.helper {
			return
		}
		if err != nil {
			a.logger.Printf("read the block's state: %v", err)
			return
		}
		was := a.model.BlockedNow(a.now())
		a.model.Lockdown, a.model.Blocking = lockdown, blocking
		for i := range a.model.Tunnels {
			t := &a.model.Tunnels[i]
			if st, ok := got[t.Name]; ok {
				t.FullTunnel, t.KillSwitch, t.Blocking = st.FullTunnel, st.KillSwitch, st.Blocking
			}
		}
		if now := a.model.BlockedNow(a.now()); now && !was {
			a.notify(noticeBlocked())
		}
	})
}

// setOption turns a tunnel's option (tunnel set) or a machine-wide one on
// or off, then reads the state again.
func (a *App) setOption(ctx context.Context, tunnel, key string, on bool) {
	if a.helper == nil {
		return
	}
	value := "off"
	if on {
		value = "on"
	}
	c := a.helper
	a.background(ctx, a.timeouts.Change, func(ctx context.Context) error {
		if tunnel == "" {
			return c.SetOption(ctx, key, value)
		}
		return c.SetTunnelOption(ctx, tunnel, key, value)
	}, func(err error) {
		if err != nil {
			what := key
			if tunnel != "" {
				what = fmt.Sprintf("%s of %s", key, tunnel)
			}
			body := err.Error()
			if errors.Is(err, ipc.ErrAccessDenied) {
				body = "Not allowed: ask to be added to group wgtray."
			}
			a.notify(Notice{Key: "option", Summary: "Could not turn " + what + " " + value, Body: body, Urgent: true})
		}
		a.refreshBlock(ctx)
	})
}
