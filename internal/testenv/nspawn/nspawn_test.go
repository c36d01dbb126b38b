package nspawn

import (
	"os"
	"strings"
	"testing"
)

// TestBoot boots each suite's container and checks the harness itself:
// commands run as transient units with their exit status, as a user, the
// journal, files in and out, and that poweroff leaves no cgroup behind.
func TestBoot(t *testing.T) {
	for _, suite := range []string{"bookworm", "trixie"} {
		t.Run(suite, func(t *testing.T) {
			c := Boot(t, Get(t, suite), Options{})
			if out := c.MustRun(t, "cat", "/proc/1/comm"); strings.TrimSpace(out) != "systemd" {
				t.Errorf("PID 1 inside is %q", out)
			}
			// A unit of its own, not a stray process.
			if out := c.MustRun(t, "cat", "/proc/self/cgroup"); !strings.Contains(out, "0::/system.slice/run-") {
				t.Errorf("the command ran in cgroup %q, not a transient unit", out)
			}
			// A pure cgroup2 view, as on a real Debian 12.
			if out := c.MustRun(t, "stat", "-f", "-c", "%T", "/sys/fs/cgroup"); strings.TrimSpace(out) != "cgroup2fs" {
				t.Errorf("/sys/fs/cgroup inside is %q", out)
			}
			if _, err := c.Run(t, nil, "sh", "-c", "echo failing; exit 3"); err == nil || !strings.Contains(err.Error(), "exit status 3") {
				t.Errorf("a failing command: %v", err)
			}
			if out := c.MustRun(t, "ip", "-o", "link"); strings.Count(out, "\n") != 1 || !strings.Contains(out, "lo:") {
				t.Errorf("the private network has more than its loopback:\n%s", out)
			}
			c.WriteFile(t, "/srv/wgtray/hello", []byte("hello\n"), 0o644)
			if out := c.MustRun(t, "cat", "/srv/wgtray/hello"); out != "hello\n" {
				t.Errorf("file written in: %q", out)
			}
			if out, err := c.Run(t, &RunOpts{User: "nobody"}, "id", "-un"); err != nil || strings.TrimSpace(out) != "nobody" {
				t.Errorf("as nobody: %q, %v", out, err)
			}
			c.Start(t, "wgt-sleeper", nil, "sleep", "600")
			if out := c.MustRun(t, "systemctl", "is-active", "wgt-sleeper"); strings.TrimSpace(out) != "active" {
				t.Errorf("started unit: %q", out)
			}
			c.MustRun(t, "systemd-cat", "-t", "wgt-harness", "echo", "a line for the journal")
			if j := c.Journal(t, "-t", "wgt-harness"); !strings.Contains(j, "a line for the journal") {
				t.Errorf("journal:\n%s", j)
			}
			c.Poweroff(t)
			if _, err := os.Stat(c.cg.path); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left after poweroff: %v", c.cg.path, err)
			}
			for _, m := range c.cg.mirrors {
				if _, err := os.Stat(m); !os.IsNotExist(err) {
					t.Errorf("cgroup %s left after poweroff: %v", m, err)
				}
			}
		})
	}
}
