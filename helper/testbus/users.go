package testbus

import (
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/testnet"
)

// EnsureGroup creates the system group name if it is missing. It is left
// in place: an empty system group is harmless, and the packages create the
// same one.
func EnsureGroup(tb testing.TB, name string) {
	tb.Helper()
	if _, err := user.LookupGroup(name); err == nil {
		return
	}
	if out, err := exec.Command("groupadd", "--system", "-f", name).CombinedOutput(); err != nil {
		tb.Fatalf("groupadd %s: %v: %s", name, err, out)
	}
}

// User is a throwaway unprivileged account.
type User struct {
	Name     string
	UID, GID int
}

// NewUser creates a system user in the given supplementary groups,
// deleted when the test ends.
func NewUser(tb testing.TB, groups ...string) User {
	tb.Helper()
	name := testnet.UniqueName("wgtu")
	args := []string{"--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		tb.Fatalf("useradd: %v: %s", err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			tb.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return User{Name: name, UID: uid, GID: gid}
}

// Command returns a command that runs argv as the user, with their
// groups, through setpriv.
func (u User) Command(argv ...string) *exec.Cmd {
	args := append([]string{fmt.Sprintf("--reuid=%d", u.UID), fmt.Sprintf("--regid=%d", u.GID), "--init-groups", "--"}, argv...)
	return exec.Command("setpriv", args...)
}
