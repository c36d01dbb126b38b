package sysbus

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// listing returns the names in dir with their sizes and modes, to tell
// whether a test changed it.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %v %d", e.Name(), info.Mode(), info.Size()))
	}
	return out
}

// mountsOn returns the lines of a mountinfo file that mount something on
// one of dirs or mention mentions. Other tests running at the same time
// mount and unmount network namespaces, so whole tables cannot be
// compared.
func mountsOn(t *testing.T, mountinfo string, dirs []string, mentions string) []string {
	t.Helper()
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (slices.Contains(dirs, f[4]) || strings.Contains(line, mentions)) {
			out = append(out, line)
		}
	}
	return out
}

// hostDirs are the host's polkit directories that polkitd's namespace
// mounts over.
var hostDirs = []string{actionsDir, etcRulesDir, usrRulesDir}

// TestPolkitConfinement checks that polkitd owns its name on the private
// bus, runs as user polkitd, sees our directories at its fixed paths, and
// that the host's directories and mounts are left as they were.
func TestPolkitConfinement(t *testing.T) {
	requireRoot(t)
	before := map[string][]string{}
	for _, d := range hostDirs {
		before[d] = listing(t, d)
	}
	hostMounts := mountsOn(t, "/proc/self/mountinfo", hostDirs, "wgtray-test-")

	t.Run("running", func(t *testing.T) {
		b := Start(t, Options{})
		if !strings.HasPrefix(b.Address, "unix:path=") {
			t.Errorf("Address = %q, want a unix:path= address", b.Address)
		}
		var owner string
		conn := b.Conn(t)
		if err := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, polkitName).Store(&owner); err != nil {
			t.Fatalf("%s has no owner: %v", polkitName, err)
		}
		var uid uint32
		if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, owner).Store(&uid); err != nil {
			t.Fatal(err)
		}
		if want := lookupUID(t, "polkitd"); int(uid) != want {
			t.Errorf("polkitd's connection is uid %d, want %d (polkitd)", uid, want)
		}
		inside := mountsOn(t, fmt.Sprintf("/proc/%d/mountinfo", b.polkit.pid()), hostDirs, b.dir)
		if len(inside) != len(hostDirs) {
			t.Errorf("polkitd's namespace should have one mount of %s on each of %v, has:\n%s", b.dir, hostDirs, strings.Join(inside, "\n"))
		}
		if got := mountsOn(t, "/proc/self/mountinfo", hostDirs, "wgtray-test-"); !slices.Equal(got, hostMounts) {
			t.Errorf("the host's mounts changed while polkitd runs:\nbefore %v\nnow    %v", hostMounts, got)
		}
	})

	for _, d := range hostDirs {
		if got := listing(t, d); !slices.Equal(got, before[d]) {
			t.Errorf("host directory %s changed:\nbefore %v\nafter  %v", d, before[d], got)
		}
	}
}

func lookupUID(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatal(err)
	}
	return uid
}
