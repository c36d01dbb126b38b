package daemon_test

import (
	"context"
	"testing"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/ipc"
)

// TestDaemonTunnelOptions: Status shows the kill-switch defaults (on for a
// full tunnel, off for a split one), SetTunnelOption changes them, and an
// unknown key, a bad value or a tunnel that does not exist changes
// nothing.
func TestDaemonTunnelOptions(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf()})
	ctx := context.Background()
	status := func(name string) ipc.Status {
		t.Helper()
		st, err := h.client.Status(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := status("work"); !st.KillSwitch || !st.AllowLAN || st.Blocking {
		t.Errorf("full tunnel defaults: killSwitch %v allowLAN %v blocking %v, want true true false", st.KillSwitch, st.AllowLAN, st.Blocking)
	}
	if st := status("home"); st.KillSwitch {
		t.Error("a split tunnel has no kill switch")
	}
	for _, c := range []struct{ key, value string }{{"kill-switch", "yes"}, {"killswitch", "on"}, {"lockdown", "on"}, {"allow-lan", ""}} {
		wantErr(t, "SetTunnelOption "+c.key+"="+c.value, h.client.SetTunnelOption(ctx, "work", c.key, c.value), ipc.ErrInvalidArgs)
	}
	wantErr(t, "SetTunnelOption of a missing tunnel", h.client.SetTunnelOption(ctx, "nope", "kill-switch", "off"), ipc.ErrNotFound)
	wantErr(t, "SetTunnelOption with a bad name", h.client.SetTunnelOption(ctx, "../x", "kill-switch", "off"), ipc.ErrInvalidName)
	if v, _ := h.opts.TunnelValues("work"); len(v) != 0 {
		t.Fatalf("refused calls changed the options: %v", v)
	}
	if v, _ := h.opts.TunnelValues("nope"); len(v) != 0 {
		t.Fatalf("a missing tunnel got options: %v", v)
	}
	if err := h.client.SetTunnelOption(ctx, "work", "kill-switch", "off"); err != nil {
		t.Fatal(err)
	}
	if err := h.client.SetTunnelOption(ctx, "work", "allow-lan", "off"); err != nil {
		t.Fatal(err)
	}
	if st := status("work"); st.KillSwitch || st.AllowLAN {
		t.Errorf("after off: killSwitch %v allowLAN %v", st.KillSwitch, st.AllowLAN)
	}
	// Setting kill-switch on for a split tunnel is stored, and still does
	// not apply.
	if err := h.client.SetTunnelOption(ctx, "home", "kill-switch", "on"); err != nil {
		t.Fatal(err)
	}
	if st := status("home"); st.KillSwitch {
		t.Error("a split tunnel got a kill switch")
	}
	// The options go with the tunnel.
	if err := h.client.Remove(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.opts.TunnelValues("work"); len(v) != 0 {
		t.Errorf("options kept after Remove: %v", v)
	}
	// Each change asked for manage.
	n := 0
	for _, q := range h.auth.questions() {
		if q.Action == daemon.ActionManage {
			n++
		}
	}
	if n < 4 {
		t.Errorf("%d questions for %s, want at least 4", n, daemon.ActionManage)
	}
}

// TestDaemonMachineOptions: SetOption validates, stores and shows
// lockdown in the Lockdown property; refusals change nothing.
func TestDaemonMachineOptions(t *testing.T) {
	h := start(t, nil)
	ctx := context.Background()
	wantErr(t, "SetOption bad key", h.client.SetOption(ctx, "kill-switch", "on"), ipc.ErrInvalidArgs)
	wantErr(t, "SetOption bad value", h.client.SetOption(ctx, "lockdown", "1"), ipc.ErrInvalidArgs)
	h.auth.set(daemon.ActionManage, false)
	wantErr(t, "SetOption refused", h.client.SetOption(ctx, "lockdown", "on"), ipc.ErrAccessDenied)
	h.auth.set(daemon.ActionManage, true)
	if v, _ := h.opts.MachineValues(); len(v) != 0 {
		t.Fatalf("refused calls changed the options: %v", v)
	}
	if on, _, err := h.client.Lockdown(ctx); err != nil || on {
		t.Fatalf("Lockdown = %v, %v; want false", on, err)
	}
	if err := h.client.SetOption(ctx, "lockdown", "on"); err != nil {
		t.Fatal(err)
	}
	if on, _, err := h.client.Lockdown(ctx); err != nil || !on {
		t.Fatalf("Lockdown = %v, %v; want true", on, err)
	}
	if v, _ := h.opts.MachineValues(); v[options.Lockdown] != options.On {
		t.Errorf("stored %v", v)
	}
}
