package sysbus

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/proc"
	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// userPrefix starts the name of every user NewUser creates. The name goes
// on with the creating process's pid so that users a killed test run left
// behind can be told from those of runs still going.
const userPrefix = "wgtu-"

// EnsureGroup creates the system group name if it is missing. It is left in
// place afterwards: an empty system group is harmless, the packages create
// the same one, and other test binaries running at the same time may
// depend on it.
func EnsureGroup(tb testing.TB, name string) {
	tb.Helper()
	if _, err := user.LookupGroup(name); err == nil {
		return
	}
	// -f: succeed if a concurrent test binary created it meanwhile.
	if out, err := shadowTool("groupadd", "--system", "-f", name); err != nil {
		tb.Fatalf("groupadd %s: %v: %s", name, err, out)
	}
}

// EnsureSystemUser creates the system user name, with a group of the
// same name as its primary group, unless it exists: a user that another
// daemon a test runs drops to (systemd-resolved's systemd-resolve). Like
// EnsureGroup's, it is left in place, and it must exist before a bus
// loads a policy that names it.
func EnsureSystemUser(tb testing.TB, name string) {
	tb.Helper()
	if _, err := user.Lookup(name); err == nil {
		return
	}
	EnsureGroup(tb, name)
	out, err := shadowTool("useradd", "--system", "--gid", name, "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name)
	if _, lerr := user.Lookup(name); err != nil && lerr != nil { // not a concurrent creation
		tb.Fatalf("useradd %s: %v: %s", name, err, out)
	}
}

// User is a throwaway unprivileged account.
type User struct {
	Name     string
	UID, GID int
}

// NewUser creates a system user without a home or login shell, with a
// group of its own as primary group and the given supplementary groups,
// and deletes both when the test ends.
func NewUser(tb testing.TB, groups ...string) User {
	tb.Helper()
	requireRoot(tb)
	staleOnce.Do(removeStale)
	name := fmt.Sprintf("%s%d-%s", userPrefix, os.Getpid(), netns.UniqueName("")[:6])
	args := []string{"--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", "--user-group"}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	if out, err := shadowTool("useradd", append(args, name)...); err != nil {
		tb.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	tb.Cleanup(func() {
		// Processes the session bus started for the user (xfconfd, the
		// portal) can outlive the bus by a moment; userdel refuses a user
		// with processes. Kill them first; --force covers the zombies an
		// init that does not reap would leave.
		if u, err := user.Lookup(name); err == nil {
			if uid, err := strconv.Atoi(u.Uid); err == nil {
				User{Name: name, UID: uid}.EndProcesses(tb)
			}
		}
		// userdel also removes the user's own group.
		if out, err := shadowTool("userdel", "--force", name); err != nil {
			tb.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		tb.Fatal(err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		tb.Fatal(err)
	}
	return User{Name: name, UID: uid, GID: gid}
}

// Command returns a command that runs argv as the user, with the user's
// supplementary groups, through setpriv.
func (u User) Command(argv ...string) *exec.Cmd {
	args := append([]string{fmt.Sprintf("--reuid=%d", u.UID), fmt.Sprintf("--regid=%d", u.GID), "--init-groups", "--"}, argv...)
	return exec.Command("setpriv", args...)
}

// shadowTool runs one of useradd, userdel or groupadd. Test binaries of
// several packages run at once and all add users: while one holds the
// lock on /etc/passwd, the others fail at once, so this tries again for a
// while.
func shadowTool(name string, args ...string) ([]byte, error) {
	deadline := time.Now().Add(startTimeout)
	backoff := 10 * time.Millisecond
	for {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "cannot lock") || time.Now().After(deadline) {
			return out, err
		}
		// Nothing to wait on: the lock holder is another process.
		<-time.After(backoff)
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

var staleOnce sync.Once

// removeStale deletes what killed test runs left behind, the first time a
// process makes a user or a directory.
func removeStale() {
	removeStaleUsers()
	removeStaleDirs()
}

// creatorGone reports whether name is prefix, a pid and "-…", and that
// process is gone. A live pid, even reused by another program, keeps the
// thing: better left than deleted under a running test.
func creatorGone(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	pidStr, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	if !ok || err != nil || pid <= 0 {
		return false
	}
	return !proc.Alive(pid)
}

// removeStaleUsers deletes the users whose creating process is gone.
// Users that some process still runs as are left: userdel refuses them.
func removeStaleUsers() {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return
	}
	defer f.Close()
	var stale []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, _, _ := strings.Cut(sc.Text(), ":"); creatorGone(name, userPrefix) {
			stale = append(stale, name)
		}
	}
	for _, name := range stale {
		shadowTool("userdel", name)
	}
}

// removeStaleDirs removes the directories of PublicDir whose creating
// process is gone. Without root it removes what it may. A directory with
// something mounted below it is left: removing it would empty what is
// mounted.
func removeStaleDirs() {
	ents, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, e := range ents {
		dir := filepath.Join(os.TempDir(), e.Name())
		if e.IsDir() && creatorGone(e.Name(), dirPrefix) && !strings.Contains(string(mounts), " "+dir+"/") {
			os.RemoveAll(dir)
		}
	}
}

// requireRoot skips the test with a clear message unless it runs as root.
func requireRoot(tb testing.TB) {
	tb.Helper()
	netns.RequireRootFor(tb, "this test starts a private system bus with polkitd and creates users")
}

// endTimeout bounds the wait for a user's processes to be gone.
const endTimeout = 10 * time.Second

// EndProcesses kills every process running as the user (by real,
// effective or saved uid) and waits until they are gone, failing the test
// after endTimeout. Zombies count as gone: they hold nothing. It kills
// again at each look, so that a process forked meanwhile is ended too.
func (u User) EndProcesses(tb testing.TB) {
	tb.Helper()
	netns.WaitFor(tb, endTimeout, fmt.Sprintf("the processes of %s (uid %d) to exit", u.Name, u.UID), func() bool {
		pids := u.processes()
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		return len(pids) == 0
	})
}

// processes returns the pids of the live processes that run as the user.
func (u User) processes() []int {
	return netns.ProcsWhere(func(pid int) bool {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return false // gone meanwhile
		}
		var uids []int
		zombie := false
		for line := range strings.Lines(string(status)) {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "State:":
				zombie = f[1] == "Z"
			case len(f) >= 4 && f[0] == "Uid:":
				for _, s := range f[1:4] {
					if n, err := strconv.Atoi(s); err == nil {
						uids = append(uids, n)
					}
				}
			}
		}
		return !zombie && slices.Contains(uids, u.UID)
	})
}

// Dir makes a directory as PublicDir does, for the user's files (a home):
// when the test ends, the user's processes are ended first, since those
// that outlive what started them (a session bus's services) write there
// until killed, then the directory is removed.
func (u User) Dir(tb testing.TB) string {
	tb.Helper()
	dir := PublicDir(tb)
	// Registered after PublicDir's removal, so run before it.
	tb.Cleanup(func() { u.EndProcesses(tb) })
	return dir
}
