package tray

import (
	"strings"
	"testing"

	"github.com/wgtray/wgtray/ipc"
)

func TestCheckEntry(t *testing.T) {
	m := Model{HelperUp: true, Tunnels: []Tunnel{{Name: "home", State: ipc.StateConnected}, {Name: "work", State: ipc.StateDisconnected}}}
	var checks []Entry
	for _, e := range m.Menu(now) {
		if e.Kind == EntryCheck {
			checks = append(checks, e)
		}
	}
	if len(checks) != 1 || checks[0].Tunnel != "home" || !checks[0].Enabled || checks[0].Title != TextCheck {
		t.Fatalf("check lines: %+v", checks)
	}
	m.setChecking("home", true)
	for _, e := range m.Menu(now) {
		if e.Kind == EntryCheck && (e.Enabled || e.Title != TextChecking) {
			t.Errorf("while checking: %+v", e)
		}
	}
	m.setChecking("home", false)
	if len(m.Checking) != 0 {
		t.Errorf("checking %v after the answer", m.Checking)
	}
}

func TestDoctorNotice(t *testing.T) {
	c := func(v ipc.Verdict, s string) ipc.Check { return ipc.Check{Verdict: v, Summary: s} }
	rep := ipc.Report{Checks: []ipc.Check{
		c(ipc.VerdictOK, "fine"), c(ipc.VerdictWarning, "w1"), c(ipc.VerdictProblem, "p1"),
		c(ipc.VerdictProblem, "p2"), c(ipc.VerdictWarning, "w2"), c(ipc.VerdictOK, "fine too"),
	}}
	no := DoctorNotice("office", rep)
	if no.Summary != "office: 2 problems, 2 warnings" || !no.Urgent {
		t.Errorf("summary %q urgent %v", no.Summary, no.Urgent)
	}
	if want := "• p1\n• p2\n• w1\n… and 1 more in the full report"; no.Body != want {
		t.Errorf("body %q, want %q", no.Body, want)
	}
	if no := DoctorNotice("office", ipc.Report{Checks: rep.Checks[:2]}); no.Summary != "office: no problem, 1 warning" || no.Urgent || !strings.Contains(no.Body, "w1") {
		t.Errorf("warnings only: %+v", no)
	}
	if no := DoctorNotice("office", ipc.Report{Checks: rep.Checks[:1]}); no.Summary != "office: no problem found (1 checks)" || no.Body != "" {
		t.Errorf("all ok: %+v", no)
	}
}
