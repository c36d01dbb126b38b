package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// TestHungHookOverDBus connects, through the real helper started with
// --allow-scripts and its default hook timeout, a full tunnel whose PostUp
// never ends. Meanwhile List and Status answer at once and show the tunnel
// connecting; the Connect fails within 45 s saying the hook timed out;
// the sleep is gone and the namespace is as it was.
func TestHungHookOverDBus(t *testing.T) {
	s := startService(t, "--allow-scripts")
	name := netns.UniqueName("wgh")
	marker := fmt.Sprintf("600.%d", time.Now().UnixNano()%1e9)
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{Extra: "PostUp = sleep " + marker + "\n"}))
	before := netns.Dump(t, s.tp.Client)
	c := s.client(t)
	sg := s.watch(t)

	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.Connect(context.Background(), name) }()
	sg.waitFor(t, name, ipc.StateConnecting)
	netns.WaitFor(t, 20*time.Second, "the hook to run", func() bool { return len(netns.FindProcs("sleep", marker)) > 0 })
	for _, call := range []struct {
		what string
		do   func(ctx context.Context) (ipc.State, error)
	}{
		{"List", func(ctx context.Context) (ipc.State, error) {
			l, err := c.List(ctx)
			for _, tn := range l {
				if tn.Name == name {
					return tn.State, err
				}
			}
			return "", err
		}},
		{"Status", func(ctx context.Context) (ipc.State, error) {
			st, err := c.Status(ctx, name)
			return st.State, err
		}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := call.do(ctx)
		cancel()
		if err != nil || st != ipc.StateConnecting {
			t.Errorf("%s while the hook hangs: %q, %v; want connecting within 1 s", call.what, st, err)
		}
	}

	var err error
	select {
	case err = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("Connect did not fail within 45 s of a hung hook")
	}
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Connect with a hung PostUp: %v, want an error saying the hook timed out", err)
	}
	t.Logf("Connect failed after %v: %v", time.Since(t0).Round(time.Second), err)
	if pids := netns.FindProcs("sleep", marker); len(pids) != 0 {
		t.Errorf("the hook's sleep still runs: pids %v", pids)
	}
	if dump := netns.Dump(t, s.tp.Client); dump != before {
		t.Errorf("the failed Connect left changes:\n%s", netns.DumpDiff(before, dump))
	}
	s.alive(t)
}

// TestSIGTERMDuringHungHook sends SIGTERM to the real helper while a
// Connect waits on a PostUp that never ends (the hook timeout raised to
// 10 min): the helper exits within 15 s, the hook's processes are gone and
// the namespace is as it was.
func TestSIGTERMDuringHungHook(t *testing.T) {
	s := startService(t, "--allow-scripts", "--hook-timeout=10m")
	name := netns.UniqueName("wgh")
	marker := fmt.Sprintf("600.%d", time.Now().UnixNano()%1e9)
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{Extra: "PostUp = sleep " + marker + "\n"}))
	before := netns.Dump(t, s.tp.Client)
	c := s.client(t)
	go c.Connect(context.Background(), name) // ends with the helper
	netns.WaitFor(t, 20*time.Second, "the hook to run", func() bool { return len(netns.FindProcs("sleep", marker)) > 0 })

	t0 := time.Now()
	s.proc.Signal(syscall.SIGTERM)
	select {
	case <-s.proc.Exited():
	case <-time.After(15 * time.Second):
		t.Fatalf("the helper still runs 15 s after SIGTERM:\n%s", s.proc.Stderr())
	}
	t.Logf("exited %v after SIGTERM", time.Since(t0).Round(10*time.Millisecond))
	if pids := netns.FindProcs("sleep", marker); len(pids) != 0 {
		t.Errorf("the hook's sleep still runs: pids %v", pids)
	}
	if dump := netns.Dump(t, s.tp.Client); dump != before {
		t.Errorf("SIGTERM during a hung hook left changes:\n%s", netns.DumpDiff(before, dump))
	}
}
