package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/engine/enginetest"
	"github.com/wgtray/wgtray/helper/journal"
	"github.com/wgtray/wgtray/helper/plan"
)

// These tests run the engine over the fake System of package enginetest,
// without root: they check the engine's bookkeeping (journal, rollback,
// cleanup) step by step, where the root tests check the kernel's side.

var _ engine.System = (*enginetest.System)(nil)

// fakeTunnel is a config the tests bring up, with what its plan needs.
type fakeTunnel struct {
	name    string
	text    string
	options plan.Options
}

// fakeTunnels returns configs whose plans use every kind of operation
// between them: a dual-stack full tunnel with DNS and a host name as
// endpoint, an IPv4 full tunnel (with the leak guard for IPv6) and a split
// tunnel with script hooks.
func fakeTunnels(t *testing.T) []fakeTunnel {
	priv, peer := newKey(t), newKey(t).PublicKey()
	return []fakeTunnel{
		{name: "full", text: enginetest.FullConfig(priv, peer)},
		{name: "full4", text: enginetest.Full4Config(priv, peer)},
		{name: "split", options: plan.Options{AllowScripts: true}, text: fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = 192.0.2.66/26
PostUp = true up
PreDown = true pre-down
PostDown = true post-down

[Peer]
PublicKey = %s
Endpoint = [2001:db8::1]:51820
AllowedIPs = 192.0.2.64/26, 198.51.100.128/25
`, priv, peer)},
	}
}

func newKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (ft fakeTunnel) config(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(ft.text))
	if err != nil {
		t.Fatalf("config %s: %v", ft.name, err)
	}
	return cfg
}

// newFake returns a fake machine on which the tests' host names resolve.
func newFake() *enginetest.System {
	s := enginetest.New()
	s.SetHost("vpn.example", netip.MustParseAddr("198.51.100.7"))
	return s
}

// newEngine returns an engine over sys journaling in a fresh directory.
func newEngine(t *testing.T, sys engine.System, opts plan.Options, dir string) *engine.Engine {
	t.Helper()
	return engine.New(sys, dir, opts, log.New(testWriter{t}, "engine: ", 0))
}

// testWriter sends the engine's log to the test's. The engine logs only
// from within its calls, which all return before the test does.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// upLog is what the fake logs for a plan applied in full.
func upLog(p *plan.Plan) []string {
	var out []string
	for _, op := range p.Ops {
		out = append(out, op.String())
	}
	return out
}

// undoLog is what undoing the first n steps of p logs: their inverses, in
// reverse order.
func undoLog(p *plan.Plan, n int) []string { return inverses(p, n, true) }

// rollbackLog is what the rollback of a failure at step n-1 logs: the
// inverses of the steps up to it, without hooks, as wg-quick's trap
// runs no PreDown or PostDown.
func rollbackLog(p *plan.Plan, n int) []string { return inverses(p, n, false) }

func inverses(p *plan.Plan, n int, hooks bool) []string {
	var out []string
	for _, op := range slices.Backward(p.Ops[:n]) {
		if inv, ok := op.Inverse(); ok && (hooks || inv.Kind != plan.Hooks) {
			out = append(out, inv.String())
		}
	}
	return out
}

// journals returns the names of the files in the journal directory.
func journals(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func diffState(t *testing.T, what string, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: machine state (-want +got):\n%s", what, diff)
	}
}

func diffLog(t *testing.T, what string, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: applied operations (-want +got):\n%s", what, diff)
	}
}

// TestFakeUpDown brings each tunnel up and down: Up applies the plan in
// order with a journal on disk, Down applies exactly the inverses in
// reverse order, leaves the machine as it was and removes the journal.
func TestFakeUpDown(t *testing.T) {
	for _, ft := range fakeTunnels(t) {
		t.Run(ft.name, func(t *testing.T) {
			ctx := t.Context()
			sys, dir := newFake(), t.TempDir()
			e := newEngine(t, sys, ft.options, dir)
			before := sys.State()
			p, err := e.Up(ctx, ft.name, ft.config(t))
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			diffLog(t, "Up", upLog(p), sys.Log())
			if cmp.Equal(before, sys.State()) {
				t.Fatal("Up changed nothing on the machine; the test proves nothing")
			}
			if got := journals(t, dir); !cmp.Equal(got, []string{ft.name + ".journal"}) {
				t.Errorf("journals while up: %v", got)
			}
			if got := e.Active(); !cmp.Equal(got, []string{ft.name}) {
				t.Errorf("Active while up: %v", got)
			}
			if e.Plan(ft.name) != p {
				t.Error("Plan does not return the plan of the tunnel that is up")
			}
			sys.ResetLog()
			if err := e.Down(ctx, ft.name); err != nil {
				t.Fatalf("Down: %v", err)
			}
			diffLog(t, "Down", undoLog(p, len(p.Ops)), sys.Log())
			diffState(t, "after Down", before, sys.State())
			if got := journals(t, dir); len(got) != 0 {
				t.Errorf("journals after Down: %v", got)
			}
			if got := e.Active(); len(got) != 0 {
				t.Errorf("Active after Down: %v", got)
			}
			// Down of a tunnel that is not up is no error and does nothing.
			sys.ResetLog()
			if err := e.Down(ctx, ft.name); err != nil {
				t.Errorf("second Down: %v", err)
			}
			diffLog(t, "second Down", nil, sys.Log())
		})
	}
}

// TestFakeRollbackEveryStep makes each step of each plan fail in turn,
// before and after the change is made, and checks that Up reports that
// step, undoes everything before it (and the failed step itself, whose
// inverse was journaled first), and leaves neither changes nor a journal.
func TestFakeRollbackEveryStep(t *testing.T) {
	for _, ft := range fakeTunnels(t) {
		t.Run(ft.name, func(t *testing.T) {
			cfg := ft.config(t)
			// The plan, to know the steps: the same facts on a machine in
			// the same state give the same plan.
			probe := newFake()
			facts, err := probe.Facts(t.Context(), ft.name, cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Build(ft.name, cfg, facts, ft.options)
			if err != nil {
				t.Fatal(err)
			}
			for _, after := range []bool{false, true} {
				for i, op := range p.Ops {
					what := fmt.Sprintf("step %d (%s), after=%v", i, op, after)
					sys, dir := newFake(), t.TempDir()
					e := newEngine(t, sys, ft.options, dir)
					before := sys.State()
					sys.Fail(enginetest.Failure{Nth: i + 1, After: after})
					_, err := e.Up(t.Context(), ft.name, cfg)
					var serr *engine.StepError
					if !errors.As(err, &serr) || !errors.Is(err, enginetest.ErrInjected) {
						t.Fatalf("%s: Up returned %v, want a StepError of the injected failure", what, err)
					}
					if serr.Step != i || !serr.RollbackOK || serr.Op != op.String() {
						t.Errorf("%s: StepError{Step: %d, Op: %q, RollbackOK: %v}", what, serr.Step, serr.Op, serr.RollbackOK)
					}
					failed := op.String() + " (failed before the change)"
					if after {
						failed = op.String() + " (failed after the change)"
					}
					want := append(upLog(p)[:i], failed)
					want = append(want, rollbackLog(p, i+1)...)
					diffLog(t, what, want, sys.Log())
					diffState(t, what, before, sys.State())
					if got := journals(t, dir); len(got) != 0 {
						t.Errorf("%s: journals left: %v", what, got)
					}
					if got := e.Active(); len(got) != 0 {
						t.Errorf("%s: Active: %v", what, got)
					}
				}
			}
		})
	}
}

// TestFakeErrActive checks that a second Up of a tunnel that is up fails
// with ErrActive and touches nothing.
func TestFakeErrActive(t *testing.T) {
	ft := fakeTunnels(t)[0]
	sys, dir := newFake(), t.TempDir()
	e := newEngine(t, sys, ft.options, dir)
	if _, err := e.Up(t.Context(), ft.name, ft.config(t)); err != nil {
		t.Fatal(err)
	}
	up := sys.State()
	sys.ResetLog()
	if _, err := e.Up(t.Context(), ft.name, ft.config(t)); !errors.Is(err, engine.ErrActive) {
		t.Errorf("second Up: %v, want ErrActive", err)
	}
	diffLog(t, "second Up", nil, sys.Log())
	diffState(t, "second Up", up, sys.State())
	if got := journals(t, dir); !cmp.Equal(got, []string{ft.name + ".journal"}) {
		t.Errorf("journals: %v", got)
	}
}

// TestFakeFactsFailure checks that an Up whose facts cannot be read
// applies nothing and leaves no journal.
func TestFakeFactsFailure(t *testing.T) {
	ft := fakeTunnels(t)[0]
	sys, dir := newFake(), t.TempDir()
	sys.FailFacts(enginetest.ErrInjected)
	e := newEngine(t, sys, ft.options, dir)
	if _, err := e.Up(t.Context(), ft.name, ft.config(t)); !errors.Is(err, enginetest.ErrInjected) {
		t.Errorf("Up: %v, want the facts' error", err)
	}
	diffLog(t, "Up", nil, sys.Log())
	if got := journals(t, dir); len(got) != 0 {
		t.Errorf("journals: %v", got)
	}
}

// TestFakeUpCancelled cancels Up's context in the middle of each step and
// checks that Up stops before the next one and undoes what it did; and
// that an Up whose context is cancelled from the start changes nothing.
func TestFakeUpCancelled(t *testing.T) {
	ft := fakeTunnels(t)[0]
	cfg := ft.config(t)
	t.Run("before", func(t *testing.T) {
		sys, dir := newFake(), t.TempDir()
		e := newEngine(t, sys, ft.options, dir)
		before := sys.State()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := e.Up(ctx, ft.name, cfg)
		var serr *engine.StepError
		if !errors.As(err, &serr) || !errors.Is(err, context.Canceled) || serr.Step != 0 || !serr.RollbackOK {
			t.Fatalf("Up: %v, want a rolled back StepError of step 0 with context.Canceled", err)
		}
		diffState(t, "cancelled Up", before, sys.State())
		if got := journals(t, dir); len(got) != 0 {
			t.Errorf("journals: %v", got)
		}
	})
	for n := 1; ; n++ {
		sys, dir := newFake(), t.TempDir()
		e := newEngine(t, sys, ft.options, dir)
		before := sys.State()
		ctx, cancel := context.WithCancel(t.Context())
		sys.BeforeApply(func(k int, _ plan.Op) {
			if k == n {
				cancel()
			}
		})
		p, err := e.Up(ctx, ft.name, cfg)
		cancel()
		if err == nil {
			// Cancelled during the last step: nothing was left to stop.
			if n != len(p.Ops) {
				t.Fatalf("Up ignored a cancel during step %d of %d", n-1, len(p.Ops))
			}
			break
		}
		var serr *engine.StepError
		if !errors.As(err, &serr) || !errors.Is(err, context.Canceled) || serr.Step != n || !serr.RollbackOK {
			t.Fatalf("cancel in step %d: Up returned %v, want a rolled back StepError of step %d", n-1, err, n)
		}
		diffState(t, fmt.Sprintf("cancel in step %d", n-1), before, sys.State())
		if got := journals(t, dir); len(got) != 0 {
			t.Errorf("cancel in step %d: journals: %v", n-1, got)
		}
		if got := e.Active(); len(got) != 0 {
			t.Errorf("cancel in step %d: Active: %v", n-1, got)
		}
	}
}

// deadPID returns a process id that no process can have: one above the
// kernel's pid_max.
func deadPID(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return max + 1
}

// setJournalPID rewrites the header of the journal at path as if process
// pid had written it, keeping its records.
func setJournalPID(t *testing.T, path string, pid int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h journal.Header
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	if err := json.Unmarshal(first, &h); err != nil {
		t.Fatalf("journal header %q: %v", first, err)
	}
	h.PID = pid
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(append(b, '\n'), rest...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// recordsUndo is what undoing the journal at path logs: its operation
// records in reverse order, less those a not-applied marker cancels.
func recordsUndo(t *testing.T, path string) []string {
	t.Helper()
	ent, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range ent.Records {
		var op plan.Op
		if err := json.Unmarshal(r, &op); err != nil {
			t.Fatal(err)
		}
		switch op.Kind {
		case plan.Owned, plan.Completed:
		case plan.NotApplied:
			ops = ops[:len(ops)-1]
		default:
			ops = append(ops, op.String())
		}
	}
	slices.Reverse(ops)
	return ops
}

// crash brings ft up with an engine that is then abandoned, as a killed
// helper would be, and makes its journal that of process pid. It returns
// the journal's path.
func crash(t *testing.T, sys *enginetest.System, dir string, ft fakeTunnel, pid int) string {
	t.Helper()
	if _, err := newEngine(t, sys, ft.options, dir).Up(t.Context(), ft.name, ft.config(t)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ft.name+".journal")
	setJournalPID(t, path, pid)
	return path
}

// TestFakeCleanupDeadJournal leaves the journal of a helper that died with
// a tunnel up, and checks that Cleanup undoes exactly its records and
// removes it, while a tunnel the cleaning engine runs stays up.
func TestFakeCleanupDeadJournal(t *testing.T) {
	tunnels := fakeTunnels(t)
	dead, mine := tunnels[0], tunnels[2]
	sys, dir := newFake(), t.TempDir()
	before := sys.State()
	path := crash(t, sys, dir, dead, deadPID(t))
	e := newEngine(t, sys, plan.Options{AllowScripts: true}, dir)
	if _, err := e.Up(t.Context(), mine.name, mine.config(t)); err != nil {
		t.Fatal(err)
	}
	want := recordsUndo(t, path)
	if len(want) == 0 {
		t.Fatal("the journal has no records; the test proves nothing")
	}
	sys.ResetLog()
	if err := e.Cleanup(t.Context()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	diffLog(t, "Cleanup", want, sys.Log())
	if got := journals(t, dir); !cmp.Equal(got, []string{mine.name + ".journal"}) {
		t.Errorf("journals after Cleanup: %v, want only the running tunnel's", got)
	}
	if got := sys.Links(); !cmp.Equal(got, []string{mine.name}) {
		t.Errorf("links after Cleanup: %v", got)
	}
	// A second Cleanup finds nothing to do.
	sys.ResetLog()
	if err := e.Cleanup(t.Context()); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	diffLog(t, "second Cleanup", nil, sys.Log())
	if err := e.Down(t.Context(), mine.name); err != nil {
		t.Fatal(err)
	}
	diffState(t, "after Cleanup and Down", before, sys.State())
}

// TestFakeCleanupLiveJournal checks that the journal of a process that is
// alive (here the test's parent, go test) is left alone: that helper still
// owns its tunnel.
func TestFakeCleanupLiveJournal(t *testing.T) {
	ft := fakeTunnels(t)[0]
	sys, dir := newFake(), t.TempDir()
	crash(t, sys, dir, ft, os.Getppid())
	up := sys.State()
	sys.ResetLog()
	if err := newEngine(t, sys, ft.options, dir).Cleanup(t.Context()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	diffLog(t, "Cleanup", nil, sys.Log())
	diffState(t, "Cleanup", up, sys.State())
	if got := journals(t, dir); !cmp.Equal(got, []string{ft.name + ".journal"}) {
		t.Errorf("journals after Cleanup: %v", got)
	}
}

// TestFakeUpUndoesDeadLeftovers covers a helper that died with a tunnel
// whose link went with it (an embedded device closes with its process) but
// whose rules, tables and DNS stayed: Up of the same tunnel first undoes
// the dead helper's journal, then brings the tunnel up afresh.
func TestFakeUpUndoesDeadLeftovers(t *testing.T) {
	ft := fakeTunnels(t)[0]
	sys, dir := newFake(), t.TempDir()
	before := sys.State()
	path := crash(t, sys, dir, ft, deadPID(t))
	if !sys.RemoveLink(ft.name) {
		t.Fatal("the crashed tunnel has no link")
	}
	leftovers := recordsUndo(t, path)
	sys.ResetLog()
	e := newEngine(t, sys, ft.options, dir)
	p, err := e.Up(t.Context(), ft.name, ft.config(t))
	if err != nil {
		t.Fatalf("Up over leftovers: %v", err)
	}
	diffLog(t, "Up over leftovers", append(leftovers, upLog(p)...), sys.Log())
	if err := e.Down(t.Context(), ft.name); err != nil {
		t.Fatal(err)
	}
	diffState(t, "after Down", before, sys.State())
	if got := journals(t, dir); len(got) != 0 {
		t.Errorf("journals: %v", got)
	}
}

// TestFakeDownFailureKeepsJournal makes one inverse fail on the way down:
// Down reports it, undoes the rest anyway and keeps the journal, from
// which a later Cleanup finishes the job.
func TestFakeDownFailureKeepsJournal(t *testing.T) {
	ft := fakeTunnels(t)[0]
	sys, dir := newFake(), t.TempDir()
	e := newEngine(t, sys, ft.options, dir)
	before := sys.State()
	p, err := e.Up(t.Context(), ft.name, ft.config(t))
	if err != nil {
		t.Fatal(err)
	}
	sys.ResetLog()
	sys.Fail(enginetest.Failure{Kind: plan.LinkDel})
	if err := e.Down(t.Context(), ft.name); !errors.Is(err, enginetest.ErrInjected) {
		t.Fatalf("Down: %v, want the injected failure", err)
	}
	want := undoLog(p, len(p.Ops))
	want[len(want)-1] += " (failed before the change)" // link del comes last
	diffLog(t, "failed Down", want, sys.Log())
	if got := sys.Links(); !cmp.Equal(got, []string{ft.name}) {
		t.Errorf("links after the failed Down: %v", got)
	}
	if got := journals(t, dir); !cmp.Equal(got, []string{ft.name + ".journal"}) {
		t.Fatalf("journals after the failed Down: %v", got)
	}
	// Only what failed is kept: the next Cleanup retries the link and
	// nothing that was already undone.
	if got, want := recordsUndo(t, filepath.Join(dir, ft.name+".journal")), []string{"link del " + ft.name}; !cmp.Equal(got, want) {
		t.Errorf("journal after the failed Down holds %q, want %q", got, want)
	}
	if st := e.State(ft.name); st.Phase != engine.Down || !strings.Contains(st.Err, "link del") {
		t.Errorf("State after the failed Down: %+v, want Down with what was left", st)
	}
	if err := e.Cleanup(t.Context()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	diffState(t, "after Cleanup", before, sys.State())
	if got := journals(t, dir); len(got) != 0 {
		t.Errorf("journals after Cleanup: %v", got)
	}
}

// TestFakeUpAfterFailedLinkDel is a Down whose link deletion failed,
// followed by an Up of the same tunnel. The engine keeps the journal for
// this case, and Up must undo it before it reads the facts, which would
// fail on the link that is still there: the tunnel comes up again without
// waiting for a restart's Cleanup.
func TestFakeUpAfterFailedLinkDel(t *testing.T) {
	ft := fakeTunnels(t)[0]
	sys, dir := newFake(), t.TempDir()
	e := newEngine(t, sys, ft.options, dir)
	before := sys.State()
	if _, err := e.Up(t.Context(), ft.name, ft.config(t)); err != nil {
		t.Fatal(err)
	}
	sys.Fail(enginetest.Failure{Kind: plan.LinkDel})
	if err := e.Down(t.Context(), ft.name); !errors.Is(err, enginetest.ErrInjected) {
		t.Fatalf("Down: %v, want the injected failure", err)
	}
	if _, err := e.Up(t.Context(), ft.name, ft.config(t)); err != nil {
		t.Fatalf("Up after the failed Down: %v", err)
	}
	if err := e.Down(t.Context(), ft.name); err != nil {
		t.Fatal(err)
	}
	diffState(t, "after Down", before, sys.State())
}
