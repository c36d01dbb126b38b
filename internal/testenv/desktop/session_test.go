package desktop

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// TestSessionEndsUserProcesses: a process of the session's user that
// outlives the session and keeps writing into the home (as xfconfd and
// the portal do for a moment after their bus is gone) must not make the
// session's cleanup fail. TestTrayOneInstanceNotRoot once failed so:
// "remove /tmp/wgtray-test-…: directory not empty". When the session's
// test ends, its directory is gone and so is every process of the user.
func TestSessionEndsUserProcesses(t *testing.T) {
	netns.RequireRootFor(t, "this test runs a desktop session as a throwaway user")
	if tool := Missing(); tool != "" {
		t.Skipf("skipping: %s not installed (sudo make test installs it)", tool)
	}
	var dir string
	var uid int
	ok := t.Run("session", func(t *testing.T) {
		s := Start(t, sysbus.NewUser(t), Options{NoPanel: true, NoPortal: true})
		dir, uid = s.Dir, s.User.UID
		home := filepath.Join(s.Dir, "home")
		// Detached (setsid -f), so that nothing the session started owns
		// it; the shell's own redirections create files without forking,
		// as fast as it can.
		loop := `i=0; while :; do : >"$0/f$i"; i=$((i+1)); done`
		// No output captured: the writer would hold the pipe open.
		if err := s.User.Command("setsid", "-f", "sh", "-c", loop, home).Run(); err != nil {
			t.Fatalf("start the writer: %v", err)
		}
		netns.WaitFor(t, 10*time.Second, "the writer's first file", func() bool {
			_, err := os.Stat(filepath.Join(home, "f0"))
			return err == nil
		})
	})
	if !ok {
		t.Fatal("the session's test failed, in its cleanup if nothing else was said")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the session's directory %s is still there: %v", dir, err)
	}
	if pids := processesOf(uid); len(pids) != 0 {
		t.Errorf("processes of the session's user (uid %d) still run: %v", uid, pids)
	}
}

// processesOf returns the pids of the live processes whose real uid is uid.
func processesOf(uid int) []int {
	return netns.ProcsWhere(func(pid int) bool {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return false
		}
		for line := range strings.Lines(string(status)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
				n, err := strconv.Atoi(f[1])
				return err == nil && n == uid && !strings.Contains(string(status), "State:\tZ")
			}
		}
		return false
	})
}
