package sysbus

import (
	"bytes"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// daemon is a child process whose exit can be waited on and whose stderr is
// kept for failure messages.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped

	mu     sync.Mutex
	stderr bytes.Buffer
	err    error // Wait's result, set before done is closed
}

// startDaemon starts cmd, kills it when the test ends and waits for it to
// be gone. The child gets SIGKILL if the test binary dies without running
// its cleanups (a go test timeout, a kill), so that a crashed run leaves no
// bus or polkitd behind.
func startDaemon(tb testing.TB, name string, cmd *exec.Cmd) *daemon {
	tb.Helper()
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = lockedWriter{d}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits, and the runtime discards threads (netns does so
		// on purpose after a failed namespace switch). This goroutine
		// holds its thread for as long as the child lives.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		close(d.done)
	}()
	if err := <-started; err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	tb.Cleanup(d.stop)
	return d
}

// stop kills the process and waits until it has been reaped.
func (d *daemon) stop() {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Kill()
		<-d.done
	}
}

// pid returns the process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// String describes the process, how it ended if it has, and its stderr.
func (d *daemon) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	state := "running"
	select {
	case <-d.done:
		state = fmt.Sprintf("exited: %v", d.err)
	default:
	}
	return fmt.Sprintf("%s (pid %d, %s), stderr:\n%s", d.name, d.cmd.Process.Pid, state, d.stderr.String())
}

// lockedWriter lets exec's copying goroutine append to the stderr buffer
// while String reads it.
type lockedWriter struct{ d *daemon }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.stderr.Write(p)
}
