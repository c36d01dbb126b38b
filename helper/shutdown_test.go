package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestSIGTERMWhilePreDownRuns connects a full tunnel whose PreDown hook
// sleeps for ten minutes, and sends SIGTERM: taking it down runs the hook,
// which the engine lets run to its hook timeout (30 s) even then, as it
// does every undo step (TestSIGTERMDuringHungHook is the same for a
// PostUp, which the change's context ends). The helper exits within 15 s
// all the same, once Shutdown's deadline has passed, and says that
// --cleanup is left to do the rest; --cleanup (the unit's ExecStopPost;
// here with a short hook timeout, since it runs the PreDown again) gives
// the namespace back.
func TestSIGTERMWhilePreDownRuns(t *testing.T) {
	s := startService(t, "--allow-scripts")
	// A duration no other test uses, to find this hook's sleep.
	dur := fmt.Sprintf("600.%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		for _, pid := range netns.FindProcs("sleep", dur) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	name := netns.UniqueName("wgk")
	s.writeConfNoKillSwitch(t, name, s.tp.ClientConfig(netns.ClientOpts{Extra: "PreDown = sleep " + dur + "\n"}))
	before := netns.Dump(t, s.tp.Client)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatalf("Connect: %v\n%s", err, s.proc.Stderr())
	}

	start := time.Now()
	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stderr, err := s.proc.Wait(t, 15*time.Second)
	t.Logf("the helper exited %v after SIGTERM (%v)", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(stderr, "--cleanup") {
		t.Errorf("helper exit with the PreDown still running: %v, want an error pointing to --cleanup:\n%s", err, stderr)
	}

	if _, errOut, code := runHelper(t, s.tp.Client, "--config-dir", s.configDir, "--journal-dir", s.stateDir,
		"--wireguard=userspace", "--allow-scripts", "--hook-timeout=1s", "--cleanup"); code != 0 {
		// The PreDown it runs again is killed after 1 s: a failed step.
		t.Logf("--cleanup after SIGTERM: exit %d: %s", code, errOut)
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("namespace after SIGTERM and --cleanup:\n%s\nhelper: %s", netns.DumpDiff(before, after), stderr)
	}
}
