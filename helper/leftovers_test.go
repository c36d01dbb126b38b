package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// writeJournals puts a dead helper's bad journals in dir: an empty one (a
// crash before its header), a garbage one, and one whose undo fails (a
// sysctl of a link that does not exist). It returns the names of the
// tunnels of the last two.
func writeJournals(t *testing.T, dir string) (garbage, stuck string) {
	t.Helper()
	garbage, stuck = netns.UniqueName("wgg"), netns.UniqueName("wgs")
	pid := deadPID(t)
	files := map[string]string{
		netns.UniqueName("wge"): "",
		garbage:                 "this is not a journal\n\x00\x01\x02\n",
		stuck: fmt.Sprintf(`{"tunnel":%q,"pid":%d}`+"\n"+
			`{"kind":"sysctl-set","link":%q,"sysctl":{"key":"net.ipv4.conf.nosuchlink0.forwarding","value":"0","old":"1"}}`+"\n", stuck, pid, stuck),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".journal"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return garbage, stuck
}

// TestBadJournalsDoNotStopTheHelper starts the helper over journals it
// cannot undo: it sets them aside, says so in the tunnel's Status, and
// serves — List, and Connect of another tunnel, work. --cleanup over the
// same kind of journals exits non-zero.
func TestBadJournalsDoNotStopTheHelper(t *testing.T) {
	s := startService(t)
	s.proc.Signal(syscall.SIGTERM)
	if stderr, err := s.proc.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, stderr)
	}
	garbage, stuck := writeJournals(t, s.stateDir)
	good := netns.UniqueName("wgk")
	s.writeConf(t, good, s.tp.ClientConfig(netns.ClientOpts{}))
	s.writeConf(t, stuck, s.tp.ClientConfig(netns.ClientOpts{}))
	s.start(t) // fails the test unless the helper comes up

	c, ctx := s.client(t), context.Background()
	if _, err := c.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	st, err := c.Status(ctx, stuck)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Error, "not undone") || !strings.Contains(st.Error, ".failed-") {
		t.Errorf("Status(%s).Error = %q, want what was left and where its journal went", stuck, st.Error)
	}
	if err := c.Connect(ctx, good); err != nil {
		t.Fatalf("Connect of another tunnel: %v", err)
	}
	if err := c.Disconnect(ctx, good); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(s.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if strings.HasSuffix(e.Name(), ".journal") {
			t.Errorf("journal %s was neither undone nor set aside", e.Name())
		}
		if fi, err := e.Info(); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	for _, want := range []string{garbage + ".journal.failed-", stuck + ".journal.failed-"} {
		found := false
		for _, n := range names {
			found = found || strings.HasPrefix(n, want)
		}
		if !found {
			t.Errorf("no %s* in %v", want, names)
		}
	}
	if len(names) != 2 {
		t.Errorf("journal dir holds %v, want the two set-aside journals only (the empty one discarded)", names)
	}

	dir := t.TempDir()
	writeJournals(t, dir)
	_, stderr, code := runHelper(t, s.tp.Client, "--journal-dir", dir, "--wireguard=userspace", "--cleanup")
	if code == 0 || !strings.Contains(stderr, "not all undone") {
		t.Errorf("--cleanup over bad journals: exit %d, stderr %q; want non-zero and what was left", code, stderr)
	}
	if st.State != ipc.StateDisconnected {
		t.Errorf("Status(%s).State = %q, want disconnected", stuck, st.State)
	}
}

// TestConnectOverForeignLink connects a tunnel whose name another
// program's interface has: Connect fails with Exists, and the interface
// is still there, as it was, after the failed Connect, a Disconnect and a
// restart's cleanup.
func TestConnectOverForeignLink(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgf")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	netns.MustRun(t, s.tp.Client, "ip", "link", "add", name, "type", "veth", "peer", "name", netns.UniqueName("vfp"))
	want := netns.Dump(t, s.tp.Client)
	c, ctx := s.client(t), context.Background()
	if err := c.Connect(ctx, name); !errors.Is(err, ipc.ErrExists) {
		t.Fatalf("Connect over another program's link: %v, want Exists", err)
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	s.proc.Signal(syscall.SIGKILL)
	s.proc.Wait(t, 20*time.Second)
	s.start(t)
	if got := netns.Dump(t, s.tp.Client); got != want {
		t.Errorf("the other program's link changed:\n%s", netns.DumpDiff(want, got))
	}
}
