package sysbus

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// processesMentioning returns the pids of processes whose command line or
// environment contains s.
func processesMentioning(t *testing.T, s string) []int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range procs {
		for _, f := range []string{"cmdline", "environ"} {
			// Processes may end while we look: errors mean gone.
			if b, err := os.ReadFile(filepath.Join(p, f)); err == nil && bytes.Contains(b, []byte(s)) {
				pid, _ := strconv.Atoi(filepath.Base(p))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// TestNothingLeftBehind checks that when a test ends, its bus, polkitd and
// the processes run as its users are gone, its directories removed and its
// users and their groups deleted; and that the host's mounts are as
// before.
func TestNothingLeftBehind(t *testing.T) {
	requireRoot(t)
	mounts := mountsOn(t, "/proc/self/mountinfo", hostDirs, "wgtray-test-")
	var b *Bus
	var users []User
	var dirs []string
	t.Run("use", func(t *testing.T) {
		b = Start(t, Options{})
		users = []User{NewUser(t, "wgtray"), NewUser(t)}
		for _, u := range users {
			c := StartChild(t, b, u)
			if got := c.Do(t, "check org.wgtray.connect"); got == "" {
				t.Fatal("no answer from polkit")
			}
			dirs = append(dirs, c.dir)
		}
		dirs = append(dirs, b.dir)
		if pids := processesMentioning(t, b.SocketPath); len(pids) == 0 {
			t.Fatal("no process mentions the bus socket: the check below would prove nothing")
		}
	})

	for _, d := range []*daemon{b.bus, b.polkit} {
		select {
		case <-d.done:
		default:
			t.Errorf("still running: %v", d)
		}
	}
	if pids := processesMentioning(t, b.SocketPath); len(pids) > 0 {
		t.Errorf("processes %v still mention %s", pids, b.SocketPath)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", d, err)
		}
	}
	for _, u := range users {
		if _, err := user.Lookup(u.Name); !errors.As(err, new(user.UnknownUserError)) {
			t.Errorf("user %s not deleted: %v", u.Name, err)
		}
		if out, err := exec.Command("getent", "passwd", u.Name).Output(); err == nil {
			t.Errorf("getent passwd still has %s", out)
		}
		if _, err := user.LookupGroup(u.Name); !errors.As(err, new(user.UnknownGroupError)) {
			t.Errorf("group %s not deleted: %v", u.Name, err)
		}
	}
	if got := mountsOn(t, "/proc/self/mountinfo", hostDirs, "wgtray-test-"); !slices.Equal(got, mounts) {
		t.Errorf("the host's mounts changed:\nbefore %v\nafter  %v", mounts, got)
	}
}

// TestPolkitdEndsWithBus checks what the package relies on when a test
// binary is killed: polkitd, which loses the parent-death signal when it
// drops to user polkitd, exits by itself once its bus is gone.
func TestPolkitdEndsWithBus(t *testing.T) {
	b := Start(t, Options{})
	b.bus.stop()
	select {
	case <-b.polkit.done:
	case <-time.After(replyTimeout):
		t.Fatalf("polkitd still runs %v after its bus ended: %v", replyTimeout, b.polkit)
	}
}
