package netns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process running inside a namespace, whose output lines
// can be waited for.
type Proc struct {
	Cmd   *exec.Cmd
	stdin io.WriteCloser

	mu     sync.Mutex
	cond   *sync.Cond
	lines  []string
	stderr bytes.Buffer
	done   bool
	err    error
	exited chan struct{}
}

// StartProc runs argv inside namespace ns with extra environment env. Its
// standard input stays open until CloseStdin; stdout lines are collected for
// WaitLine and stderr is kept for failure messages. The process is killed
// when the test ends if it is still running.
func StartProc(tb testing.TB, ns string, env []string, argv ...string) *Proc {
	tb.Helper()
	if filepath.Base(argv[0]) == "wireguard-go" && len(argv) > 1 {
		// A killed wireguard-go leaves its socket behind; tracking the
		// interface gets it removed after the process's cleanup below.
		trackIface(tb, argv[len(argv)-1])
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(cmd.Environ(), env...)
	p := &Proc{Cmd: cmd, exited: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr, cond: p.cond}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.done, p.err = true, err
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		p.Kill()
		<-p.exited
	})
	return p
}

// lockedWriter collects stderr under the Proc's lock and wakes those
// waiting for a line of it (WaitStderrFrom).
type lockedWriter struct {
	mu   *sync.Mutex
	w    io.Writer
	cond *sync.Cond
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.cond.Broadcast()
	return l.w.Write(b)
}

// WaitLine waits until a line of stdout contains substr and returns it. It
// fails the test if the process exits first or the deadline passes.
func (p *Proc) WaitLine(tb testing.TB, substr string, timeout time.Duration) string {
	tb.Helper()
	return p.WaitLineFrom(tb, 0, substr, timeout)
}

// WaitLineFrom is WaitLine looking only at lines from index from on (see
// Lines), so that a caller can wait for a new line.
func (p *Proc) WaitLineFrom(tb testing.TB, from int, substr string, timeout time.Duration) string {
	tb.Helper()
	i := from
	return p.waitFor(tb, timeout, func() (string, bool) {
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], substr) {
				return p.lines[i], true
			}
		}
		return "", false
	}, func(exited bool) string {
		if exited {
			return fmt.Sprintf("process exited (%v) before printing %q; stdout %q; stderr: %s", p.err, substr, p.lines, p.stderr.String())
		}
		return fmt.Sprintf("no %q from the process within %v; stdout %q; stderr: %s", substr, timeout, p.lines, p.stderr.String())
	})
}

// waitFor waits until find, called with the Proc's lock held whenever
// output arrives, finds what it looks for, and returns it. It fails the
// test, with failure's message (also called with the lock held), when
// the process exits first or the deadline passes.
func (p *Proc) waitFor(tb testing.TB, timeout time.Duration, find func() (string, bool), failure func(exited bool) string) string {
	tb.Helper()
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	for {
		if found, ok := find(); ok {
			p.mu.Unlock()
			return found
		}
		// Fatal runs the cleanups, and the Proc's needs the lock.
		if p.done || time.Now().After(deadline) {
			msg := failure(p.done)
			p.mu.Unlock()
			tb.Fatal(msg)
		}
		p.cond.Wait()
	}
}

// StderrLen returns how many bytes the process has written to stderr so
// far: the from of a WaitStderrFrom for its next line.
func (p *Proc) StderrLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Len()
}

// WaitStderrFrom waits until a whole line that stderr got after its first
// from bytes contains substr, and returns that line. It fails the test if
// the process exits first or the deadline passes.
func (p *Proc) WaitStderrFrom(tb testing.TB, from int, substr string, timeout time.Duration) string {
	tb.Helper()
	return p.waitFor(tb, timeout, func() (string, bool) {
		out := p.stderr.Bytes()[from:]
		// Only whole lines: a line may arrive in more than one write.
		for len(out) > 0 {
			line, rest, ok := bytes.Cut(out, []byte("\n"))
			if !ok {
				break
			}
			if bytes.Contains(line, []byte(substr)) {
				return string(line), true
			}
			out = rest
		}
		return "", false
	}, func(exited bool) string {
		if exited {
			return fmt.Sprintf("process exited (%v) before writing %q to stderr; stderr: %s", p.err, substr, p.stderr.String())
		}
		return fmt.Sprintf("no %q on the process's stderr within %v; stderr: %s", substr, timeout, p.stderr.String())
	})
}

// Exited is closed when the process has exited and its output is read.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// WriteStdin writes s to the process's standard input.
func (p *Proc) WriteStdin(s string) error {
	_, err := io.WriteString(p.stdin, s)
	return err
}

// CloseStdin closes the process's standard input.
func (p *Proc) CloseStdin() { p.stdin.Close() }

// Signal sends sig to the process (ip netns exec execs it in place, so the
// pid is the process's own).
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill kills the process if it is still running.
func (p *Proc) Kill() { p.Cmd.Process.Kill() }

// Wait waits for the process to exit, at most timeout, and returns its
// stderr and exit error.
func (p *Proc) Wait(tb testing.TB, timeout time.Duration) (string, error) {
	tb.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		tb.Fatalf("process still running after %v; stderr: %s", timeout, p.Stderr())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String(), p.err
}

// Stderr returns what the process wrote to stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Lines returns the stdout lines so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *Proc) String() string { return fmt.Sprint(p.Cmd.Args) }
