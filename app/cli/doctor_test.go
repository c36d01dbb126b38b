package cli

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/ipc"
)

// doctorHelper is a recorder that also diagnoses, with a canned report.
type doctorHelper struct {
	recorder
	rep  ipc.Report
	got  []ipc.DiagnoseOptions
	name string
}

func (d *doctorHelper) Diagnose(_ context.Context, name string, o ipc.DiagnoseOptions) (ipc.Report, error) {
	d.name = name
	d.got = append(d.got, o)
	return d.rep, d.err
}

func runDoctorWith(t *testing.T, d *doctorHelper, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut strings.Builder
	env := Env{Stdout: &out, Stderr: &errOut, Now: time.Now,
		Dial: func(context.Context) (Helper, func(), error) { return d, func() {}, nil }}
	code := Run(context.Background(), env, append([]string{"doctor"}, args...))
	return out.String(), errOut.String(), code
}

func TestDoctorOutputAndExit(t *testing.T) {
	d := &doctorHelper{rep: ipc.Report{Tunnels: []string{"office"}, Checks: []ipc.Check{
		{ID: "leaks.ipv4-default", Group: "leaks", Tunnel: "office", Verdict: ipc.VerdictOK, Summary: "All IPv4 traffic goes through office."},
		{ID: "conflicts.firewalld", Group: "conflicts", Verdict: ipc.VerdictWarning, Summary: "firewalld runs.", Fix: "Reconnect after a reload."},
		{ID: "leaks.dns", Group: "leaks", Tunnel: "office", Verdict: ipc.VerdictProblem, Summary: "DNS goes around the tunnel.", Fix: "Add DNS =.", Details: []string{"192.0.2.1 goes via eth0"}},
	}}}
	out, errOut, code := runDoctorWith(t, d, "office", "--mtu-host", "198.51.100.2")
	if code != 1 {
		t.Errorf("exit %d with a problem, want 1", code)
	}
	want := `wgtray doctor: office and this machine: 1 problem(s), 1 warning(s), 1 ok
PROBLEM  [leaks office] DNS goes around the tunnel.
         fix: Add DNS =.
         - 192.0.2.1 goes via eth0
WARNING  [conflicts] firewalld runs.
         fix: Reconnect after a reload.
ok       [leaks office] All IPv4 traffic goes through office.
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "checking: a test DNS query, MTU pings and the endpoints, at most 5 s each") {
		t.Errorf("no progress line: %q", errOut)
	}
	if d.name != "office" || !d.got[0].Active || d.got[0].MTUHost != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("asked %q %+v", d.name, d.got)
	}

	d.rep.Checks = d.rep.Checks[:2]
	if _, errOut, code := runDoctorWith(t, d, "--no-probes", "--json"); code != 0 || strings.Contains(errOut, "checking") {
		t.Errorf("without a problem: exit %d, stderr %q", code, errOut)
	}
	if d.got[1].Active || d.name != "" {
		t.Errorf("--no-probes asked %q %+v", d.name, d.got[1])
	}
}

func TestDoctorRoute(t *testing.T) {
	d := &doctorHelper{rep: ipc.Report{Routes: []ipc.Route{{Dest: "203.0.113.7",
		Ordinary: ipc.Hop{Dev: "office", Table: 51820, Prefix: "default", RulePriority: 32765, Rule: "not from all fwmark 0xca6c lookup 51820",
			Sentence: "203.0.113.7 goes through tunnel office (rule 32765: everything without WireGuard's mark uses table 51820)"},
		Marked: &ipc.Hop{Mark: 0xca6c, Dev: "eth0", Via: "192.0.2.1", Table: 254, Sentence: "WireGuard's own packets to 203.0.113.7 (fwmark 0xca6c) go via eth0"}}}}}
	out, _, code := runDoctorWith(t, d, "route", "203.0.113.7", "--proto", "tcp", "--port", "443")
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	for _, w := range []string{
		"203.0.113.7 goes through tunnel office (rule 32765: everything without WireGuard's mark uses table 51820)\n",
		"  route default, dev office, table 51820, rule 32765: not from all fwmark 0xca6c lookup 51820\n",
		"WireGuard's own packets to 203.0.113.7 (fwmark 0xca6c) go via eth0\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	o := d.got[0]
	if o.Route != netip.MustParseAddr("203.0.113.7") || o.Proto != "tcp" || o.Port != 443 || o.Active {
		t.Errorf("asked %+v", o)
	}
	for _, bad := range [][]string{{"route"}, {"route", "203.0.113.7", "--proto", "icmp"}, {"route", "203.0.113.7", "--port", "80"}, {"a", "b"}, {"no/such"}} {
		if _, _, code := runDoctorWith(t, d, bad...); code != 2 {
			t.Errorf("doctor %v: exit %d, want 2", bad, code)
		}
	}
}
