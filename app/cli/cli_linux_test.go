package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/app/internal/fakehelper"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// cliRun is the wgtray command line running against a bus.
type cliRun struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	done     chan struct{}
	started  time.Time
}

func startCLI(t *testing.T, bus *sysbus.Bus, env []string, args ...string) *cliRun {
	t.Helper()
	r := &cliRun{cmd: exec.Command(filepath.Join(sysbus.Binaries(t), "wgtray"), args...), done: make(chan struct{})}
	r.cmd.Env = append(append(os.Environ(), bus.Env()), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.err
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	return r
}

// wait waits up to limit for the command to end and returns how long it
// ran and its exit code (-1: killed by a signal).
func (r *cliRun) wait(t *testing.T, limit time.Duration) (time.Duration, int) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("%v still ran after %v; it said %q", r.cmd.Args, limit, r.err.String())
	}
	return time.Since(r.started), r.cmd.ProcessState.ExitCode()
}

// TestCLIGivesUp runs the command line against a helper that never
// answers: it gives up at its deadline (WGTRAY_TIMEOUT, here), or at once
// on SIGTERM or SIGINT, exiting 1 and saying what happened and how to see
// whether the helper finished anyway.
func TestCLIGivesUp(t *testing.T) {
	netns.RequireRootFor(t, "this test runs a private system bus")
	bus := sysbus.Start(t, sysbus.Options{NoPolkit: true})
	f := fakehelper.Start(t, bus.Conn(t),
		ipc.Tunnel{Name: "late", State: ipc.StateDisconnected},
		ipc.Tunnel{Name: "term", State: ipc.StateDisconnected},
		ipc.Tunnel{Name: "intr", State: ipc.StateDisconnected})
	f.Hold(ipc.MethodConnect, "")
	f.Hold(ipc.MethodList, "")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"connect", "late"}, "wgtray: connect late: wgtray-helper did not answer within 2 s; it may still finish: see `wgtray status late`\n"},
		{[]string{"list"}, "wgtray: list: wgtray-helper did not answer within 2 s\n"},
	} {
		t.Run(c.args[0]+" deadline", func(t *testing.T) {
			r := startCLI(t, bus, []string{"WGTRAY_TIMEOUT=2"}, c.args...)
			took, code := r.wait(t, 30*time.Second)
			if code != 1 || r.err.String() != c.want {
				t.Errorf("exit %d, stderr %q; want 1, %q", code, r.err.String(), c.want)
			}
			if took < 2*time.Second || took > 12*time.Second {
				t.Errorf("gave up after %v, want 2 s", took)
			}
		})
	}
	for _, c := range []struct {
		tunnel string
		sig    syscall.Signal
		name   string
	}{{"term", syscall.SIGTERM, "SIGTERM"}, {"intr", syscall.SIGINT, "SIGINT"}} {
		t.Run(c.name, func(t *testing.T) {
			r := startCLI(t, bus, nil, "connect", c.tunnel)
			f.WaitHeld(t, ipc.MethodConnect, c.tunnel, 20*time.Second)
			sent := time.Now()
			r.cmd.Process.Signal(c.sig)
			r.wait(t, 30*time.Second)
			took, code := time.Since(sent), r.cmd.ProcessState.ExitCode()
			want := "wgtray: connect " + c.tunnel + ": interrupted by " + c.name +
				" before wgtray-helper answered; it may still finish: see `wgtray status " + c.tunnel + "`\n"
			if code != 1 || r.err.String() != want {
				t.Errorf("exit %d, stderr %q; want 1, %q", code, r.err.String(), want)
			}
			if took > 5*time.Second {
				t.Errorf("ended %v after %s, want at once", took, c.name)
			}
			if strings.Contains(r.out.String(), "connected") {
				t.Errorf("stdout %q after an interrupted connect", r.out.String())
			}
		})
	}
}
