package sysbus

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestNewUser checks the user's groups as the bus and polkit will see
// them through setpriv.
func TestNewUser(t *testing.T) {
	requireRoot(t)
	member, stranger := NewUser(t, "wgtray"), NewUser(t)
	for _, c := range []struct {
		u    User
		want string
	}{
		{member, fmt.Sprintf("%d %d %s", member.UID, member.GID, "wgtray")},
		{stranger, fmt.Sprintf("%d %d %s", stranger.UID, stranger.GID, "")},
	} {
		out, err := c.u.Command("sh", "-c", `echo "$(id -u) $(id -g) $(id -Gn | tr ' ' '\n' | grep -x wgtray)"`).Output()
		if err != nil {
			t.Fatalf("as %s: %v", c.u.Name, err)
		}
		if got := string(out[:len(out)-1]); got != c.want {
			t.Errorf("as %s: uid gid wgtray-membership = %q, want %q", c.u.Name, got, c.want)
		}
	}
}

// TestStaleRemoved checks that users and directories whose creating
// process is gone are deleted, and those of a live one kept.
func TestStaleRemoved(t *testing.T) {
	requireRoot(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-%s", userPrefix, gone.Process.Pid, netns.UniqueName("")[:6])
	if out, err := shadowTool("useradd", "--system", "--no-create-home", "--user-group", stale); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { shadowTool("userdel", stale) }) // in case the test fails
	staleDir := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-test", dirPrefix, gone.Process.Pid))
	if err := os.MkdirAll(filepath.Join(staleDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(staleDir) }) // in case the test fails
	live := NewUser(t)
	liveDir := PublicDir(t)
	removeStale()
	if _, err := user.Lookup(stale); !errors.As(err, new(user.UnknownUserError)) {
		t.Errorf("user %s of a process that is gone was kept: %v", stale, err)
	}
	if _, err := user.Lookup(live.Name); err != nil {
		t.Errorf("user %s of this process (pid %d) was deleted: %v", live.Name, os.Getpid(), err)
	}
	if _, err := os.Stat(staleDir); !os.IsNotExist(err) {
		t.Errorf("directory %s of a process that is gone was kept: %v", staleDir, err)
	}
	if _, err := os.Stat(liveDir); err != nil {
		t.Errorf("directory %s of this process was removed: %v", liveDir, err)
	}
}
