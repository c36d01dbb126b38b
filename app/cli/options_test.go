package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/ipc"
)

func (r *recorder) SetTunnelOption(_ context.Context, n, k, v string) error {
	return r.rec("SetTunnelOption " + n + " " + k + " " + v)
}
func (r *recorder) SetOption(_ context.Context, k, v string) error {
	r.lockdown = v == "on"
	return r.rec("SetOption " + k + " " + v)
}
func (r *recorder) Lockdown(context.Context) (bool, bool, error) {
	return r.lockdown, r.lockdown, r.rec("Lockdown")
}

func TestOptionCommands(t *testing.T) {
	cases := []struct {
		args  []string
		calls string
		out   string
	}{
		{[]string{"set", "wg0", "kill-switch", "off"}, "SetTunnelOption wg0 kill-switch off", "wg0: kill-switch off\n"},
		{[]string{"set", "wg0", "allow-lan", "on"}, "SetTunnelOption wg0 allow-lan on", "wg0: allow-lan on\n"},
		{[]string{"lockdown", "on"}, "SetOption lockdown on,Lockdown", "lockdown: on (traffic outside the tunnel is blocked)\n"},
		{[]string{"lockdown"}, "Lockdown", "lockdown: off (no traffic is blocked)\n"},
	}
	for _, c := range cases {
		r := &recorder{}
		out, errOut, code := run(t, r, c.args...)
		if code != 0 || out != c.out || strings.Join(r.calls, ",") != c.calls {
			t.Errorf("%v: code %d out %q err %q calls %v; want out %q calls %s", c.args, code, out, errOut, r.calls, c.out, c.calls)
		}
	}
	for _, bad := range [][]string{{"set", "wg0", "kill-switch"}, {"set", "../x", "kill-switch", "on"}, {"lockdown", "on", "off"}} {
		r := &recorder{}
		if _, _, code := run(t, r, bad...); code != 2 || len(r.calls) != 0 {
			t.Errorf("%v: code %d calls %v, want 2 and none", bad, code, r.calls)
		}
	}
	// The helper's refusal reaches the user.
	r := &recorder{err: &ipc.Error{Name: ipc.ErrorInvalidArgs, Message: "invalid arguments: kill-switch takes on or off"}}
	if _, errOut, code := run(t, r, "set", "wg0", "kill-switch", "maybe"); code != 1 || !strings.Contains(errOut, "takes on or off") {
		t.Errorf("refusal: code %d, %q", code, errOut)
	}
}

func TestStatusShowsKillSwitch(t *testing.T) {
	r := &recorder{status: ipc.Status{State: ipc.StateConnected, FullTunnel: true, KillSwitch: true, AllowLAN: true, Blocking: true}}
	out, _, code := run(t, r, "status", "wg0")
	if code != 0 || !strings.Contains(out, "kill switch:   on, local network allowed") || !strings.Contains(out, "blocking:") {
		t.Errorf("status: %d\n%s", code, out)
	}
	out, _, _ = run(t, r, "status", "--json", "wg0")
	for _, k := range []string{`"killSwitch": true`, `"allowLAN": true`, `"blocking": true`} {
		if !strings.Contains(out, k) {
			t.Errorf("json lacks %s:\n%s", k, out)
		}
	}
}
