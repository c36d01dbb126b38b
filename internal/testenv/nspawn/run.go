package nspawn

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RunOpts change how Run runs a command inside. The zero value runs it
// as root, with a 2-minute deadline.
type RunOpts struct {
	User    string        // run as this user (User=, with its groups), not root
	Props   []string      // more unit properties, such as "PAMName=login"
	Stdin   string        // the command's standard input
	Timeout time.Duration // default 2 minutes
}

// nsenter returns a command that runs argv in all of the container's
// namespaces, with its root directory. It runs in its own process group,
// which the context's end kills whole: nsenter forks to enter the PID
// namespace, and its child must not outlive it.
func (c *Container) nsenter(ctx context.Context, argv ...string) *exec.Cmd {
	args := append([]string{"--target", fmt.Sprint(c.Leader), "--all", "--root", "--wd", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER="}
	return cmd
}

// Run runs argv inside the container as a transient service of its
// systemd (systemd-run --wait --pipe), not as a stray process in the
// container's namespaces: a stray process would make poweroff wait for
// it. It returns the combined output, and an error saying what failed
// when the command fails or its deadline passes.
func (c *Container) Run(tb testing.TB, o *RunOpts, argv ...string) (string, error) {
	tb.Helper()
	if o == nil {
		o = &RunOpts{}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sr := []string{"systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--service-type=exec",
		"--setenv=LC_ALL=C", "--setenv=SYSTEMD_COLORS=0"}
	if o.User != "" {
		sr = append(sr, "--uid="+o.User)
	}
	for _, p := range o.Props {
		sr = append(sr, "--property="+p)
	}
	cmd := c.nsenter(ctx, append(append(sr, "--"), escapeArgs(argv)...)...)
	cmd.Stdin = strings.NewReader(o.Stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("in %s: %s: no end within %v: %s", c.Name, strings.Join(argv, " "), timeout, out.String())
	}
	if err != nil {
		who := ""
		if o.User != "" {
			who = " (as " + o.User + ")"
		}
		return out.String(), fmt.Errorf("in %s%s: %s: %w: %s", c.Name, who, strings.Join(argv, " "), err, out.String())
	}
	return out.String(), nil
}

// escapeArgs protects a command line from systemd: a unit's ExecStart=
// expands $VAR and ${VAR} from the unit's environment (systemd-run before
// systemd 254 cannot turn that off), and "$$" is a literal "$".
func escapeArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "$", "$$")
	}
	return out
}

// MustRun is Run as root that fails the test when the command fails.
func (c *Container) MustRun(tb testing.TB, argv ...string) string {
	tb.Helper()
	out, err := c.Run(tb, nil, argv...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Shell runs a shell script inside as root and fails the test when it
// fails.
func (c *Container) Shell(tb testing.TB, script string) string {
	tb.Helper()
	return c.MustRun(tb, "/bin/sh", "-ec", script)
}

// Start starts argv as a transient service named unit (a long-running
// process, such as a server), with more unit properties props, and stops
// it when the test ends if the container still runs.
func (c *Container) Start(tb testing.TB, unit string, props []string, argv ...string) {
	tb.Helper()
	args := []string{"systemd-run", "--quiet", "--collect", "--service-type=exec", "--unit=" + unit}
	for _, p := range props {
		args = append(args, "--property="+p)
	}
	c.MustRun(tb, append(append(args, "--"), escapeArgs(argv)...)...)
	tb.Cleanup(func() {
		if !c.stopped {
			c.Run(tb, nil, "systemctl", "stop", unit)
		}
	})
}

// Journal returns the container's journal of this boot with
// journalctl's options args, such as "-u", "wgtray-helper.service" or
// "-p", "warning".
func (c *Container) Journal(tb testing.TB, args ...string) string {
	tb.Helper()
	// Sync first: what the units logged a moment ago is in the file.
	c.Run(tb, nil, "journalctl", "--sync")
	return c.MustRun(tb, append([]string{"journalctl", "--no-pager", "-b", "-o", "short-monotonic"}, args...)...)
}

// Path returns where a path inside the container is seen from this
// machine: below /proc/PID/root of its PID 1, with the container's own
// mounts.
func (c *Container) Path(inside string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", c.Leader), inside)
}

// WriteFile writes a file inside the container (root's, mode perm),
// making its directory.
func (c *Container) WriteFile(tb testing.TB, inside string, data []byte, perm os.FileMode) {
	tb.Helper()
	p := c.Path(inside)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		tb.Fatal(err)
	}
}

// CopyIn copies a file of this machine into the container.
func (c *Container) CopyIn(tb testing.TB, host, inside string, perm os.FileMode) {
	tb.Helper()
	b, err := os.ReadFile(host)
	if err != nil {
		tb.Fatal(err)
	}
	c.WriteFile(tb, inside, b, perm)
}

// ReadFile reads a file inside the container.
func (c *Container) ReadFile(inside string) ([]byte, error) {
	return os.ReadFile(c.Path(inside))
}

// WaitFor polls cond every interval until it holds, failing the test
// after timeout; for states inside the container that have no event to
// wait on from here.
func (c *Container) WaitFor(tb testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	tb.Helper()
	c.WaitForState(tb, timeout, interval, what, func() (bool, string) { return cond(), "" })
}

// WaitForState is WaitFor with a probe that also says what it saw: the
// last of which the failure shows.
func (c *Container) WaitForState(tb testing.TB, timeout, interval time.Duration, what string, probe func() (ok bool, state string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, state := probe()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if state != "" {
				state = "; last seen:\n" + state
			}
			tb.Fatalf("in %s: timed out after %v waiting for %s%s", c.Name, timeout, what, state)
		}
		<-tick.C
	}
}
