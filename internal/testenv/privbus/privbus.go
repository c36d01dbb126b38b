// Package privbus runs an unprivileged, private dbus-daemon for tests that
// need a real bus but no policy: the tests of package ipc, which exercise
// the client's encoding, and those of package daemon, which run the real
// server against fakes. Everyone on the bus may own any name and call
// anything, so nothing here says whether the project's D-Bus policy works;
// the root tests of package sysbus and packaging do that.
//
// The daemon is killed and reaped when the test ends. If the test binary
// dies without running its cleanups (a go test timeout, a kill), the daemon
// gets SIGKILL through the parent-death signal, so no dbus-daemon outlives
// a crashed run.
//
// It needs Debian's package dbus (dbus-daemon); tests skip without it.
package privbus

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// busConfig is a minimal bus that lets everyone own and call anything: the
// tests exercise the client and the server, not a policy.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startTimeout bounds the wait for the daemon to print its address. It is
// generous because other test binaries may be starting buses at the same
// time under the race detector.
const startTimeout = 30 * time.Second

// Start runs a private dbus-daemon for the test and returns its address.
// The daemon prints its address once it listens, so reading it is the wait
// for readiness. Start skips the test if dbus-daemon is not installed.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		tb.Skip("skipping: dbus-daemon is not installed (Debian package dbus)")
	}
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "bus.conf")
	sock := filepath.Join(dir, "bus")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(busConfig, "@SOCKET@", sock)), 0o600); err != nil {
		tb.Fatal(err)
	}
	// A pipe of our own rather than StdoutPipe: exec's pipe must not be
	// read once Wait has been called, and Wait runs concurrently below.
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bin, "--config-file="+cfg, "--nofork", "--nopidfile", "--nosyslog", "--print-address=1")
	cmd.Stdout = w
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The parent-death signal fires when the thread that forked the
		// child exits, not the process, and the runtime may end threads.
		// This goroutine holds its thread for as long as the child lives.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
	}()
	err = <-started
	// The child has its copy; ours must go so that a dead daemon reads as
	// end of file instead of a hang.
	w.Close()
	if err != nil {
		tb.Fatalf("start dbus-daemon: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	if err := r.SetReadDeadline(time.Now().Add(startTimeout)); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		tb.Fatalf("dbus-daemon did not print its address: %v; stderr: %s", err, stderr.String())
	}
	return strings.TrimSpace(line)
}

// Connect opens a connection to the bus at addr, closed at the end of the
// test. It uses the sequential signal handler, as ipc.Dial does, so that
// signals reach ipc's Watch in the order they were sent.
func Connect(tb testing.TB, addr string) *dbus.Conn {
	tb.Helper()
	conn, err := dbus.Connect(addr, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		tb.Fatalf("connect to the test bus: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// lockedBuffer lets exec's copying goroutine append to stderr while a
// failing Start reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
