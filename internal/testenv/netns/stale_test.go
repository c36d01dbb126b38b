package netns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// TestCleanStale fakes what a killed test run leaves behind and checks
// that CleanStale removes that, and only that.
func TestCleanStale(t *testing.T) {
	RequireRoot(t)
	dead := deadPid(t)

	// Set up under the lock, or a CleanStale of a test binary running in
	// parallel could clean half of it away.
	unlock := sync.OnceFunc(lockStale())
	t.Cleanup(unlock)
	// A namespace of a dead creator with a wireguard-go still in it.
	staleNS := fmt.Sprintf("%s%d-%s", NamePrefix, dead, UniqueName(""))
	if out, err := exec.Command("ip", "netns", "add", staleNS).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", staleNS).Run() })
	wgIface := UniqueName("wgs")
	cmd := exec.Command("ip", "netns", "exec", staleNS, "wireguard-go", "-f", wgIface)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		os.Remove(uapisock.Path(wgIface))
	})
	// A socket whose process is gone, marked by a dead creator.
	marked := UniqueName("wgs")
	staleSocket(t, marked)
	markerFile := filepath.Join(markerDir, marked)
	if err := os.WriteFile(markerFile, []byte(strconv.Itoa(dead)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(markerFile) })
	WaitFor(t, 10*time.Second, "wireguard-go's socket", func() bool {
		_, err := os.Stat(uapisock.Path(wgIface))
		return err == nil
	})
	unlock()
	// Not ours: a stale socket without a marker, and a live test's namespace.
	unmarked := UniqueName("wgs")
	staleSocket(t, unmarked)
	live := NewNS(t)

	CleanStale()

	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("wireguard-go in the stale namespace still runs")
	}
	names := netnsNames(t)
	for _, c := range []struct {
		path string
		want bool
	}{
		{"/run/netns/" + staleNS, false},
		{uapisock.Path(wgIface), false},
		{uapisock.Path(marked), false},
		{markerFile, false},
		{uapisock.Path(unmarked), true},
		{"/run/netns/" + live, true},
	} {
		_, err := os.Stat(c.path)
		if exists := err == nil; exists != c.want {
			t.Errorf("after CleanStale, %s exists: %v, want %v (namespaces: %v)", c.path, exists, c.want, names)
		}
	}
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// staleSocket leaves a UAPI socket for iface that nobody listens on, as a
// killed wireguard-go does, and removes it when the test ends.
func staleSocket(t *testing.T, iface string) {
	t.Helper()
	if err := os.MkdirAll(uapisock.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: uapisock.Path(iface), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	t.Cleanup(func() { os.Remove(uapisock.Path(iface)) })
}

func netnsNames(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
