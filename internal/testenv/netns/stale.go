package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/proc"
	"github.com/wgtray/wgtray/internal/uapisock"
)

// markerDir holds one file per WireGuard interface this package started,
// holding the pid of the test process that started it. Interface names
// are too short to carry a pid, and the marker is what lets CleanStale
// tell our leftover sockets and processes from anybody else's.
const markerDir = "/run/wgtray-testnet"

// tracked holds the interfaces this process has a marker for, so that a
// benchmark bringing the same interface up b.N times registers one cleanup.
var tracked sync.Map

// trackIface marks iface as ours and, when the test ends, stops any
// wireguard-go still serving it, removes its stale socket and the marker.
// Call it before starting wireguard-go: cleanups run last-in first-out,
// so this one then runs after the process's own.
func trackIface(tb testing.TB, iface string) {
	tb.Helper()
	if _, loaded := tracked.LoadOrStore(iface, true); loaded {
		return
	}
	if err := os.MkdirAll(markerDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	marker := filepath.Join(markerDir, iface)
	if err := os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if left := terminate(wireguardGoPids(iface), 2*time.Second); len(left) > 0 {
			tb.Errorf("wireguard-go for %s survives SIGKILL: pids %v", iface, left)
		}
		uapisock.RemoveStale(iface)
		os.Remove(marker)
		tracked.Delete(iface)
	})
}

// CleanStale removes what killed test runs of this package left behind:
// namespaces named NamePrefix+pid+"-"… and WireGuard interfaces with a
// marker, in both cases only when the process that created them is gone.
// Processes still running in such a namespace, or serving such an
// interface, are stopped first; then stale sockets are removed. Nothing
// that this package did not create is touched. New calls it.
func CleanStale() {
	defer lockStale()()
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if pid, ok := creatorPid(e.Name()); ok && !proc.Alive(pid) {
				reapNS(e.Name())
				exec.Command("ip", "netns", "del", e.Name()).Run()
			}
		}
	}
	if ents, err := os.ReadDir(markerDir); err == nil {
		for _, e := range ents {
			marker := filepath.Join(markerDir, e.Name())
			b, err := os.ReadFile(marker)
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 || proc.Alive(pid) {
				continue
			}
			terminate(wireguardGoPids(e.Name()), 2*time.Second)
			uapisock.RemoveStale(e.Name())
			os.Remove(marker)
		}
	}
}

// creatorPid returns the pid that NewNS put into namespace name, if name
// is one of ours.
func creatorPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	if !ok || err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// lockStale takes an exclusive lock on markerDir and returns its unlock.
// Test binaries of several packages run in parallel; one cleaner at a
// time keeps them from fighting over the same leftovers. Without the lock
// (no /run), cleaning still works, only less orderly.
func lockStale() (unlock func()) {
	if err := os.MkdirAll(markerDir, 0o755); err != nil {
		return func() {}
	}
	f, err := os.Open(markerDir)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() } // closing the last fd drops the lock
}
