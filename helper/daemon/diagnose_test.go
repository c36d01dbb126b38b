package daemon_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/diagnose"
	"github.com/wgtray/wgtray/ipc"
)

// fakeDiagnoser records what the server asks package diagnose and
// answers with one check per tunnel. (The checks themselves are tested
// in package diagnose, in namespaces.)
type fakeDiagnoser struct {
	mu   sync.Mutex
	runs []diagRun
}

type diagRun struct {
	tunnels []diagnose.Tunnel
	opts    ipc.DiagnoseOptions
	uid     uint32
}

func (f *fakeDiagnoser) Run(_ context.Context, tunnels []diagnose.Tunnel, opts ipc.DiagnoseOptions, uid uint32) ipc.Report {
	f.mu.Lock()
	f.runs = append(f.runs, diagRun{tunnels, opts, uid})
	f.mu.Unlock()
	rep := ipc.Report{}
	for _, t := range tunnels {
		rep.Tunnels = append(rep.Tunnels, t.Name)
		rep.Checks = append(rep.Checks, ipc.Check{ID: "fake", Tunnel: t.Name, Verdict: ipc.VerdictOK, Summary: "fine"})
	}
	return rep
}

func (f *fakeDiagnoser) last(t *testing.T) diagRun {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.runs) == 0 {
		t.Fatal("the diagnoser was not run")
	}
	return f.runs[len(f.runs)-1]
}

// TestDaemonDiagnose: Diagnose asks no one's authorization, even with
// every action refused; it diagnoses the connected tunnels (or the one
// named) from the engine's plan, without keys; a tunnel that is not
// connected is itself a problem in the report; bad options are
// InvalidArgs, a bad or unknown name the usual errors.
func TestDaemonDiagnose(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": full4Conf()})
	if err := h.client.Connect(t.Context(), "work"); err != nil {
		t.Fatal(err)
	}
	before := len(h.auth.questions())
	h.auth.set("org.wgtray.connect", false)
	h.auth.set("org.wgtray.manage", false)

	rep, err := h.client.Diagnose(t.Context(), "", ipc.DiagnoseOptions{Active: true})
	if err != nil {
		t.Fatalf("Diagnose: %v", err)
	}
	if len(rep.Tunnels) != 1 || rep.Tunnels[0] != "work" {
		t.Errorf("report about %v, want [work]", rep.Tunnels)
	}
	run := h.diag.last(t)
	if !run.opts.Active || len(run.tunnels) != 1 {
		t.Fatalf("run: %+v", run)
	}
	tn := run.tunnels[0]
	if !tn.FullTunnel || tn.Table != 51820 || len(tn.Blocked) != 1 || tn.Blocked[0] != 6 || len(tn.Rules) != 4 || len(tn.Firewall) != 2 {
		t.Errorf("the tunnel as diagnosed: %+v", tn)
	}
	if v, ok := tn.Status["State"]; !ok || v.Value() != "connected" {
		t.Errorf("status given to the diagnoser: %v", tn.Status)
	}
	if strings.Contains(rep.Checks[0].Summary, privKey.String()) {
		t.Error("the report holds the private key")
	}

	rep, err = h.client.Diagnose(t.Context(), "home", ipc.DiagnoseOptions{})
	if err != nil {
		t.Fatalf("Diagnose(home): %v", err)
	}
	if len(rep.Checks) == 0 || rep.Checks[0].ID != "tunnel.state" || rep.Checks[0].Verdict != ipc.VerdictProblem ||
		rep.Checks[0].Summary != "home is disconnected: the leak, MTU and health checks need it connected." {
		t.Errorf("Diagnose(home) checks: %+v", rep.Checks)
	}
	if rep.Worst() != ipc.VerdictProblem {
		t.Errorf("worst: %s", rep.Worst())
	}
	if got := len(h.auth.questions()); got != before {
		t.Errorf("Diagnose asked the authorizer %d questions", got-before)
	}

	_, err = h.client.Diagnose(t.Context(), "absent", ipc.DiagnoseOptions{})
	wantErr(t, "Diagnose of a tunnel that is not stored", err, ipc.ErrNotFound)
	_, err = h.client.Diagnose(t.Context(), "no/such", ipc.DiagnoseOptions{})
	wantErr(t, "Diagnose of an invalid name", err, ipc.ErrInvalidName)
	obj := h.client.Conn().Object(ipc.BusName, ipc.ObjectPath)
	for _, args := range [][]any{
		{"", map[string]dbus.Variant{"Bogus": dbus.MakeVariant(true)}},
		{"", map[string]dbus.Variant{"Route": dbus.MakeVariant("not an address")}},
		{"", map[string]string{"Route": "192.0.2.1"}},
		{"work"},
	} {
		err := obj.CallWithContext(t.Context(), ipc.Interface+"."+ipc.MethodDiagnose, 0, args...).Err
		var de dbus.Error
		if !errors.As(err, &de) || de.Name != ipc.ErrorInvalidArgs {
			t.Errorf("Diagnose%v: %v, want InvalidArgs", args, err)
		}
	}
	// Still connected, nothing applied by the diagnosis.
	if st := h.status(t, "work"); st.State != ipc.StateConnected {
		t.Errorf("work after the diagnoses: %s", st.State)
	}
}
