package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// service is a helper running as the D-Bus service in a client namespace
// with a real WireGuard peer, on a private system bus with real polkitd.
type service struct {
	bus       *sysbus.Bus
	tp        *netns.Topology
	configDir string
	stateDir  string
	proc      *netns.Proc
	args      []string
	fs        *privatefs.FS // when set, the helper runs in this view of /etc
}

func startService(t *testing.T, extra ...string) *service {
	t.Helper()
	return startServiceIn(t, nil, extra...)
}

// startServiceIn starts the helper in a private view of /etc, for tests
// of features that write there (DNS), or in the machine's when fs is nil.
func startServiceIn(t *testing.T, fs *privatefs.FS, extra ...string) *service {
	t.Helper()
	return startServiceWith(t, sysbus.Options{}, fs, extra...)
}

// startServiceWith is startServiceIn on a bus started with opts.
func startServiceWith(t *testing.T, opts sysbus.Options, fs *privatefs.FS, extra ...string) *service {
	t.Helper()
	netns.RequireRoot(t)
	s := &service{bus: sysbus.Start(t, opts), tp: netns.New(t), fs: fs}
	s.configDir = filepath.Join(t.TempDir(), "wireguard")
	s.stateDir = t.TempDir()
	if err := os.Mkdir(s.configDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// --lib-dir too: the machine's /var/lib/wgtray is not the test's.
	s.args = append([]string{"--config-dir", s.configDir, "--journal-dir", s.stateDir, "--lib-dir", t.TempDir(), "--wireguard=userspace"}, extra...)
	s.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the helper's stderr:\n%s", s.proc.Stderr())
		}
	})
	return s
}

// start runs the helper and waits until it owns its name.
func (s *service) start(t *testing.T) {
	t.Helper()
	argv := helperArgv(t, s.args...)
	if s.fs != nil {
		argv = s.fs.Argv(argv...)
	}
	s.proc = s.bus.StartHelper(t, s.tp.Client, helperEnv, argv...)
}

// client is a typed client as root.
func (s *service) client(t *testing.T) *ipc.Client {
	t.Helper()
	return ipc.NewClient(s.bus.Conn(t))
}

// writeConf stores a config for tunnel name directly, as root would.
func (s *service) writeConf(t *testing.T, name, text string) {
	t.Helper()
	netns.WriteConf(t, s.configDir, name, text)
}

// writeConfNoKillSwitch is writeConf with the tunnel's kill switch off,
// for tests of a crash, a stop or a vanished link that are about the rest
// of what Up did: with the kill switch (a full tunnel's default) its
// block stays on those paths, by design (killswitch_test.go).
func (s *service) writeConfNoKillSwitch(t *testing.T, name, text string) {
	t.Helper()
	s.writeConf(t, name, text)
	if err := os.WriteFile(filepath.Join(s.configDir, name+".options"), []byte("kill-switch=off\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cli runs the wgtray command line as user u (or root when u is nil).
func (s *service) cli(t *testing.T, u *sysbus.User, args ...string) (string, string, int) {
	t.Helper()
	argv := append([]string{filepath.Join(sysbus.Binaries(t), "wgtray")}, args...)
	var cmd *exec.Cmd
	if u == nil {
		cmd = exec.Command(argv[0], argv[1:]...)
	} else {
		cmd = u.Command(argv...)
	}
	cmd.Env = append(os.Environ(), s.bus.Env())
	return runCmd(t, cmd)
}

// busctl runs busctl on the test bus as user u (root when nil).
func (s *service) busctl(t *testing.T, u *sysbus.User, args ...string) (string, error) {
	t.Helper()
	argv := append([]string{"busctl", "--address=" + s.bus.Address}, args...)
	var cmd *exec.Cmd
	if u == nil {
		cmd = exec.Command(argv[0], argv[1:]...)
	} else {
		cmd = u.Command(argv...)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// alive checks that the helper still answers.
func (s *service) alive(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.bus.Conn(t).Object(ipc.BusName, ipc.ObjectPath).CallWithContext(ctx, "org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		t.Fatalf("helper no longer answers: %v; stderr: %s", err, s.proc.Stderr())
	}
}

// signals records every StateChanged signal from the helper.
type signals struct {
	mu   sync.Mutex
	cond *sync.Cond
	got  []ipc.StateChange
}

func (s *service) watch(t *testing.T) *signals {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.client(t).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sg := &signals{}
	sg.cond = sync.NewCond(&sg.mu)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.Kind == ipc.EventState {
				sg.mu.Lock()
				sg.got = append(sg.got, ev.Change)
				sg.cond.Broadcast()
				sg.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return sg
}

// waitFor waits until a signal for name reaching state arrives.
func (sg *signals) waitFor(t *testing.T, name string, state ipc.State) ipc.StateChange {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	timer := time.AfterFunc(20*time.Second, func() { sg.mu.Lock(); sg.cond.Broadcast(); sg.mu.Unlock() })
	defer timer.Stop()
	sg.mu.Lock()
	defer sg.mu.Unlock()
	for {
		for _, c := range sg.got {
			if c.Name == name && c.State == state {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no StateChanged(%s, %s) within 20s; got %+v", name, state, sg.got)
		}
		sg.cond.Wait()
	}
}

func (sg *signals) all() []ipc.StateChange {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	return append([]ipc.StateChange(nil), sg.got...)
}
