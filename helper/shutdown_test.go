package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
// tunnel connecting. Then SIGTERM ends the helper within 15 s:
//
//   - "sleep 600": the hook is killed with the change's context, the
//     Connect rolls back, and the namespace is as before at once;
//   - "sleep 600; true": bash is killed but its sleep keeps the hook's
//     output open, so the change does not end (the engine does not kill
//     process groups); the helper exits all the same once Shutdown's
//     deadline passes, and --cleanup (the unit's ExecStopPost) then gives
//     the namespace back as before.
func TestSIGTERMWhileHookRuns(t *testing.T) {
	for _, c := range []struct {
		name, hook string
		killable   bool
	}{
		{"killable", "sleep %s", true},
		{"keeps its output open", "sleep %s; true", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startService(t, "--allow-scripts")
			// A duration no other test uses, to find this hook's sleep.
			dur := fmt.Sprintf("600.%d%d", os.Getpid(), time.Now().UnixNano()%1000000)
			t.Cleanup(func() {
				for _, pid := range pidsRunning(t, "sleep", dur) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			name := netns.UniqueName("wgk")
			s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{Extra: "PostUp = " + fmt.Sprintf(c.hook, dur) + "\n"}))
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

			start := time.Now()
			if err := s.proc.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			stderr, err := s.proc.Wait(t, 15*time.Second)
			t.Logf("the helper exited %v after SIGTERM (%v)", time.Since(start).Round(time.Millisecond), err)
			select {
			case err := <-connected:
				if err == nil {
					t.Error("the Connect interrupted by SIGTERM succeeded")
				}
			case <-time.After(10 * time.Second):
				t.Error("the Connect interrupted by SIGTERM got no answer after the helper exited")
			}

			if c.killable {
				if err != nil {
					t.Errorf("helper exit: %v\n%s", err, stderr)
				}
				if after := netns.Dump(t, s.tp.Client); after != before {
					t.Errorf("namespace after SIGTERM:\n%s\nhelper: %s", netns.DumpDiff(before, after), stderr)
				}
				return
			}
			if _, errOut, code := runHelper(t, s.tp.Client, "--config-dir", s.configDir, "--journal-dir", s.stateDir, "--wireguard=userspace", "--cleanup"); code != 0 {
				t.Errorf("--cleanup after SIGTERM: exit %d: %s", code, errOut)
			}
			if after := netns.Dump(t, s.tp.Client); after != before {
				t.Errorf("namespace after SIGTERM and --cleanup:\n%s\nhelper: %s", netns.DumpDiff(before, after), stderr)
			}
		})
	}
}
