package dns

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/plan"
)

// hangingResolvconf is a resolvconf that never answers, and leaves a
// child behind in its process group that holds its output open: each
// writes its process ID to a file of dir.
const hangingResolvconf = `#!/bin/sh
sleep 600 &
echo $! > "%DIR%/child"
echo $$ > "%DIR%/self"
exec sleep 600
`

// TestResolvconfTimeout: a resolvconf that hangs makes Set and Revert
// fail once Timeout has passed, with an error that says it timed out,
// even though the caller's context has no deadline; the program and what
// it started are killed, nothing is left running.
func TestResolvconfTimeout(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "resolvconf")
	if err := os.WriteFile(prog, []byte(strings.ReplaceAll(hangingResolvconf, "%DIR%", dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	h, _ := newHost(t)
	h.Manager, h.Resolvconf, h.Timeout = plan.DNSResolvconf, prog, time.Second
	d := &plan.DNS{Manager: plan.DNSResolvconf, Name: "wg0", Servers: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
	for _, call := range []struct {
		name string
		fn   func(context.Context, string, *plan.DNS) error
	}{{"Set", h.Set}, {"Revert", h.Revert}} {
		t.Run(call.name, func(t *testing.T) {
			for _, f := range []string{"child", "self"} {
				os.Remove(filepath.Join(dir, f))
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- call.fn(context.Background(), "wg0", d) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				killPidFiles(t, dir)
				t.Fatalf("%s still running after 10s", call.name)
			}
			took := time.Since(start)
			t.Logf("%s failed after %v: %v", call.name, took.Round(time.Millisecond), err)
			if err == nil || !strings.Contains(err.Error(), "timed out after 1s") || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want a timeout error", call.name, err)
			}
			if took > 5*time.Second {
				t.Errorf("%s took %v with a timeout of 1s", call.name, took)
			}
			for _, f := range []string{"child", "self"} {
				waitGone(t, readPid(t, filepath.Join(dir, f)), 5*time.Second)
			}
		})
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the hanging resolvconf did not start: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until process pid has exited, through a pidfd that
// becomes readable when it does.
func waitGone(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(timeout.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("process %d still runs %v after the timeout", pid, timeout)
		}
		return
	}
}

// killPidFiles kills what a hanging resolvconf left, after a failure.
func killPidFiles(t *testing.T, dir string) {
	for _, f := range []string{"child", "self"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}
