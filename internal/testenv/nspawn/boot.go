package nspawn

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Container is a booted container: its systemd is PID 1 in its own PID,
// mount, network, IPC and UTS namespaces.
type Container struct {
	Name   string // the machine name, also its host name
	Image  *Image
	Leader int // the container's PID 1, as this machine sees it

	cmd     *exec.Cmd
	cg      *cgroup
	console *capped
	exited  chan struct{}
	stopped bool
}

// Options change how a container boots.
type Options struct {
	// BindRO are host directories made visible read-only inside, as
	// "HOST" or "HOST:INSIDE" (systemd-nspawn's --bind-ro).
	BindRO []string
}

// Boot boots a container from img and powers it off when the test ends.
// The flags are the ones this kind of machine (PID 1 not systemd, mixed
// cgroup v1/v2) needs, each for a reason found the hard way:
//
//   - a cgroup of the test's own, and SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1,
//     which gives the container a pure cgroup2 view as on a real Debian 12;
//   - --register=no (no machined here) with --keep-unit (without it
//     nspawn fails with "Failed to open system bus");
//   - --private-network: the container's networking is its own;
//   - --bind=/dev/net/tun for the embedded WireGuard devices;
//   - --system-call-filter=bpf: without it systemd cannot install the
//     device cgroup programs, and a unit's DevicePolicy= and DeviceAllow=
//     are silently not enforced;
//   - --volatile=overlay: changes go to a tmpfs, the cached tree stays as
//     built.
func Boot(tb testing.TB, img *Image, o Options) *Container {
	tb.Helper()
	cg, err := newCgroup()
	if err != nil {
		tb.Skipf("skipping: systemd-nspawn cannot boot a container here: %v", err)
	}
	c := &Container{
		Name:    "wgt-" + img.Suite + "-" + randHex(3),
		Image:   img,
		cg:      cg,
		console: &capped{max: 256 << 10},
		exited:  make(chan struct{}),
	}
	args := []string{"-q", "-D", img.Dir, "-M", c.Name,
		"--boot", "--register=no", "--keep-unit", "--private-network",
		"--bind=/dev/net/tun", "--system-call-filter=bpf", "--volatile=overlay",
		"--console=read-only"}
	for _, b := range o.BindRO {
		args = append(args, "--bind-ro="+b)
	}
	// Poweroff ends it, with a deadline of its own.
	c.cmd = cg.command(context.Background(), "systemd-nspawn", args...)
	c.cmd.Stdout, c.cmd.Stderr = c.console, c.console
	// Its own session: a terminal's signals are not the container's.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		cg.remove()
		tb.Fatalf("start systemd-nspawn: %v", err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	tb.Cleanup(func() { c.Poweroff(tb) })

	if c.Leader, err = c.findLeader(60 * time.Second); err != nil {
		tb.Fatalf("nspawn %s: %v\nconsole:\n%s", c.Name, err, c.Console())
	}
	state := c.waitBooted(tb, 120*time.Second)
	if state != "running" {
		failed, _ := c.Run(tb, nil, "systemctl", "--failed", "--no-pager")
		tb.Fatalf("container %s booted %s, not running:\n%s\nconsole:\n%s", c.Name, state, failed, c.Console())
	}
	tb.Logf("nspawn: %s (%s) booted in %v, PID 1 is %d here", c.Name, img.Suite, time.Since(start).Round(time.Millisecond), c.Leader)
	return c
}

// findLeader waits for the container's PID 1: nspawn's child in another
// PID namespace, once it runs systemd.
func (c *Container) findLeader(timeout time.Duration) (int, error) {
	ourPidNS, _ := os.Readlink("/proc/self/ns/pid")
	nspawn := c.cmd.Process.Pid
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return 0, fmt.Errorf("systemd-nspawn exited before booting (%v)", c.cmd.ProcessState)
		case <-tick.C:
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if ns != "" && ns != ourPidNS && strings.TrimSpace(string(comm)) == "systemd" {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no systemd in a new PID namespace below systemd-nspawn (pid %d) after %v", nspawn, timeout)
}

// waitBooted waits until the container's systemd has finished booting
// and returns its state ("running", "degraded", ...).
func (c *Container) waitBooted(tb testing.TB, timeout time.Duration) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		// --wait blocks until the boot is done; it fails while the
		// manager does not answer yet.
		out, _ := c.nsenter(ctx, "systemctl", "is-system-running", "--wait").Output()
		cancel()
		state := strings.TrimSpace(string(out))
		switch state {
		case "running", "degraded", "maintenance", "stopping":
			return state
		}
		if time.Now().After(deadline) {
			tb.Fatalf("container %s did not finish booting in %v (state %q)\nconsole:\n%s", c.Name, timeout, state, c.Console())
		}
		select {
		case <-c.exited:
			tb.Fatalf("container %s exited while booting\nconsole:\n%s", c.Name, c.Console())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Poweroff shuts the container down cleanly and waits for it, with a
// deadline: SIGTERM makes systemd-nspawn ask the container's systemd to
// halt; after 90 s the container's PID 1 and nspawn are killed. Then the
// test's cgroup is removed. It runs when the test ends; calling it before
// is allowed.
func (c *Container) Poweroff(tb testing.TB) {
	tb.Helper()
	if c.stopped {
		return
	}
	c.stopped = true
	start := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		tb.Logf("nspawn: %s powered off in %v", c.Name, time.Since(start).Round(time.Millisecond))
	case <-time.After(90 * time.Second):
		tb.Errorf("container %s did not power off in 90 s: killing it\nconsole:\n%s", c.Name, c.Console())
		if c.Leader > 0 {
			syscall.Kill(c.Leader, syscall.SIGKILL) // ends its whole PID namespace
		}
		c.cmd.Process.Kill()
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			tb.Errorf("systemd-nspawn (pid %d) still runs after SIGKILL", c.cmd.Process.Pid)
		}
	}
	if err := c.cg.remove(); err != nil {
		tb.Errorf("nspawn: %v", err)
	}
}

// Console returns what the container wrote to its console (the boot and
// shutdown messages), at most the last 256 KiB.
func (c *Container) Console() string { return c.console.String() }

// capped is a buffer that keeps the last max bytes written to it.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (w *capped) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if over := w.buf.Len() - w.max; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}

func (w *capped) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}
