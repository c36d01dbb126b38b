package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// pidsRunning returns the processes whose command line is exactly argv.
func pidsRunning(t *testing.T, argv ...string) []int {
	t.Helper()
	want := []byte{}
	for _, a := range argv {
		want = append(append(want, a...), 0)
	}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Equal(cmdline, want) {
			continue // gone meanwhile, or another program
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// TestSIGTERMWhileHookRuns connects a full tunnel whose PostUp hook
// sleeps for ten minutes, in a helper started with --allow-scripts. While
// the hook runs, List and Status answer within a second and show the
// tunnel connecting. Then SIGTERM ends the helper within 15 s: the hook
// is killed with the change's context, the Connect rolls back, and the
// namespace is as before.
func TestSIGTERMWhileHookRuns(t *testing.T) {
	s := startService(t, "--allow-scripts")
	dur := uniqueSleep(t)
	name := netns.UniqueName("wgk")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{Extra: "PostUp = sleep " + dur + "\n"}))
	before := netns.Dump(t, s.tp.Client)
	sig := s.watch(t)

	connected := make(chan error, 1)
	go func() { connected <- s.client(t).Connect(context.Background(), name) }()
	sig.waitFor(t, name, ipc.StateConnecting)
	netns.WaitFor(t, 20*time.Second, "the PostUp hook to run", func() bool { return len(pidsRunning(t, "sleep", dur)) > 0 })

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tunnels, err := s.client(t).List(ctx)
	if err != nil || len(tunnels) != 1 || tunnels[0].State != ipc.StateConnecting {
		t.Errorf("List while the hook runs: %+v, %v; want %s connecting within 1s", tunnels, err, name)
	}
	if st, err := s.client(t).Status(ctx, name); err != nil || st.State != ipc.StateConnecting {
		t.Errorf("Status while the hook runs: %+v, %v; want connecting within 1s", st, err)
	}

	stderr, err := sigterm(t, s)
	if err != nil {
		t.Errorf("helper exit: %v\n%s", err, stderr)
	}
	if err := await(t, connected, "answer to the Connect interrupted by SIGTERM"); err == nil {
		t.Error("the Connect interrupted by SIGTERM succeeded")
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("namespace after SIGTERM:\n%s\nhelper: %s", netns.DumpDiff(before, after), stderr)
	}
}

// TestSIGTERMWhilePreDownRuns connects a full tunnel whose PreDown hook
// sleeps for ten minutes, and sends SIGTERM: taking it down runs the hook,
// which the engine lets run to its hook timeout (30 s) even then, as it
// does every undo step. The helper exits within 15 s all the same, once
// Shutdown's deadline has passed, and says that --cleanup is left to do
// the rest; --cleanup (the unit's ExecStopPost; here with a short hook
// timeout, since it runs the PreDown again) gives the namespace back.
func TestSIGTERMWhilePreDownRuns(t *testing.T) {
	s := startService(t, "--allow-scripts")
	dur := uniqueSleep(t)
	name := netns.UniqueName("wgk")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{Extra: "PreDown = sleep " + dur + "\n"}))
	before := netns.Dump(t, s.tp.Client)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatalf("Connect: %v\n%s", err, s.proc.Stderr())
	}
	stderr, err := sigterm(t, s)
	if err == nil || !strings.Contains(stderr, "--cleanup") {
		t.Errorf("helper exit with the PreDown still running: %v, want an error pointing to --cleanup:\n%s", err, stderr)
	}
	if _, errOut, code := runHelper(t, s.tp.Client, "--config-dir", s.configDir, "--journal-dir", s.stateDir,
		"--wireguard=userspace", "--allow-scripts", "--hook-timeout=1s", "--cleanup"); code != 0 {
		t.Logf("--cleanup after SIGTERM: exit %d: %s", code, errOut)
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("namespace after SIGTERM and --cleanup:\n%s\nhelper: %s", netns.DumpDiff(before, after), stderr)
	}
}

// uniqueSleep returns a duration of about ten minutes that no other test
// uses, to find a hook's sleep by its command line; the test's end kills
// what is left of it.
func uniqueSleep(t *testing.T) string {
	dur := fmt.Sprintf("600.%d%d", os.Getpid(), time.Now().UnixNano()%1000000)
	t.Cleanup(func() {
		for _, pid := range pidsRunning(t, "sleep", dur) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return dur
}

// sigterm sends SIGTERM to the helper and waits for it to exit, failing
// the test if that takes more than 15 s.
func sigterm(t *testing.T, s *service) (string, error) {
	t.Helper()
	start := time.Now()
	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stderr, err := s.proc.Wait(t, 15*time.Second)
	t.Logf("the helper exited %v after SIGTERM (%v)", time.Since(start).Round(time.Millisecond), err)
	return stderr, err
}

// await returns what ch delivers, failing the test if nothing comes
// within 20 s.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20s", what)
	}
	panic("unreachable")
}
