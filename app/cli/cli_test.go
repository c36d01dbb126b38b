package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/ipc"
)

// recorder is a Helper that records calls; the command line's real
// helper is tested end to end in package helper.
type recorder struct {
	calls    []string
	status   ipc.Status
	lockdown bool
	err      error
}

func (r *recorder) rec(s string) error { r.calls = append(r.calls, s); return r.err }
func (r *recorder) List(context.Context) ([]ipc.Tunnel, error) {
	return []ipc.Tunnel{{Name: "a", State: "connected"}, {Name: "b", State: "disconnected"}}, r.rec("List")
}
func (r *recorder) Status(_ context.Context, n string) (ipc.Status, error) {
	s := r.status
	s.Name = n
	return s, r.rec("Status " + n)
}
func (r *recorder) Connect(_ context.Context, n string) error    { return r.rec("Connect " + n) }
func (r *recorder) Disconnect(_ context.Context, n string) error { return r.rec("Disconnect " + n) }
func (r *recorder) Import(_ context.Context, n, text string) error {
	return r.rec(fmt.Sprintf("Import %s %d", n, len(text)))
}
func (r *recorder) Remove(_ context.Context, n string) error { return r.rec("Remove " + n) }
func (r *recorder) GetConfig(_ context.Context, n string) (string, error) {
	return "[Interface]\nPrivateKey = (hidden)", r.rec("GetConfig " + n)
}

func run(t *testing.T, r *recorder, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut strings.Builder
	env := Env{Stdout: &out, Stderr: &errOut, Now: func() time.Time { return time.Unix(1700000012, 0) },
		Dial: func(context.Context) (Helper, func(), error) { return r, func() {}, nil }}
	code := Run(context.Background(), env, args)
	return out.String(), errOut.String(), code
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "my office VPN.conf")
	os.WriteFile(conf, []byte("[Interface]\n"), 0o600)
	cases := []struct {
		args []string
		call string
		out  string
	}{
		{[]string{"list"}, "List", "a                connected\n"},
		{[]string{"connect", "wg0"}, "Connect wg0", "wg0: connected\n"},
		{[]string{"disconnect", "wg0"}, "Disconnect wg0", "wg0: disconnected\n"},
		{[]string{"remove", "wg0"}, "Remove wg0", "wg0: removed\n"},
		{[]string{"show", "wg0"}, "GetConfig wg0", "(hidden)\n"},
		{[]string{"import", conf}, "Import my_office_VPN 12", "as my_office_VPN\n"},
		{[]string{"import", conf, "--name", "work"}, "Import work 12", "as work\n"},
		{[]string{"import", "--name=work", conf}, "Import work 12", "as work\n"},
		{[]string{"status", "--json", "wg0"}, "Status wg0", `"name": "wg0"`},
		{[]string{"list", "--json"}, "List", `"State": "disconnected"`},
	}
	for _, c := range cases {
		r := &recorder{status: ipc.Status{State: "connected"}}
		out, errOut, code := run(t, r, c.args...)
		if code != 0 || len(r.calls) == 0 || r.calls[0] != c.call || !strings.Contains(out, c.out) {
			t.Errorf("%v: code %d, calls %v, out %q, err %q; want call %q and output containing %q", c.args, code, r.calls, out, errOut, c.call, c.out)
		}
	}
}

func TestMisuseIsExit2AndCallsNothing(t *testing.T) {
	for _, args := range [][]string{
		{"connect"}, {"connect", "a", "b"}, {"connect", "../etc"}, {"status", "x", "y"},
		{"list", "--bogus"}, {"frobnicate"}, {"connect", "0123456789abcdef"}, {"remove", ""},
	} {
		r := &recorder{}
		_, errOut, code := run(t, r, args...)
		if code != 2 || len(r.calls) != 0 || errOut == "" {
			t.Errorf("%q: code %d, calls %v, stderr %q; want 2, none, a message", args, code, r.calls, errOut)
		}
	}
	r := &recorder{}
	if out, _, code := run(t, r, "connect", "--help"); code != 0 || len(r.calls) != 0 {
		t.Errorf("--help: code %d %q", code, out)
	}
}

func TestHelperErrorsAreExit1WithMessage(t *testing.T) {
	r := &recorder{err: &ipc.Error{Message: "not authorized: for org.wgtray.connect"}}
	_, errOut, code := run(t, r, "connect", "wg0")
	if code != 1 || !strings.Contains(errOut, "not authorized") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	_, errOut, code = run(t, &recorder{}, "import", "/nonexistent/x.conf")
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("import of a missing file: code %d, %q", code, errOut)
	}
}

func TestStatusText(t *testing.T) {
	r := &recorder{status: ipc.Status{State: "connected", Interface: "wg0", Addresses: []string{"203.0.113.2/32"},
		Endpoint: "192.0.2.1:51820", FullTunnel: true, LastHandshake: 1700000000, RxBytes: 1258291, TxBytes: 348160}}
	out, _, _ := run(t, r, "status", "wg0")
	for _, want := range []string{"wg0: connected", "12 s ago", "↓ 1.2 MiB ↑ 340 KiB", "full tunnel", "192.0.2.1:51820"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}
