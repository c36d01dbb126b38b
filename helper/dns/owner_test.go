package dns

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/plan"
)

// ownerFixture is a resolv.conf in a directory of the test, with an
// original of some kind, and a Host that owns it.
type ownerFixture struct {
	h      *Host
	logs   *strings.Builder
	path   string
	target string // the symbolic link's target
	before plan.FileState
}

const stubText = "nameserver 127.0.0.53\noptions edns0 trust-ad\n"

func newOwnerFixture(t *testing.T, kind string) *ownerFixture {
	t.Helper()
	dir := t.TempDir()
	f := &ownerFixture{path: filepath.Join(dir, "resolv.conf"), target: filepath.Join(dir, "stub-resolv.conf")}
	if err := os.WriteFile(f.target, []byte(stubText), 0o644); err != nil {
		t.Fatal(err)
	}
	switch kind {
	case "file":
		if err := os.WriteFile(f.path, []byte("# the LAN's\nnameserver 192.0.2.53\noptions timeout:1\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	case "symlink":
		if err := os.Symlink("stub-resolv.conf", f.path); err != nil {
			t.Fatal(err)
		}
	}
	f.h, f.logs = newHost(t)
	f.h.ResolvConf = f.path
	f.before = f.state(t)
	return f
}

func (f *ownerFixture) state(t *testing.T) plan.FileState {
	t.Helper()
	st, err := ReadFileState(f.path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tunnelDNS is what the planner makes for tunnel i now: the file as it
// is, and that tunnel's text.
func (f *ownerFixture) tunnelDNS(t *testing.T, i int) (string, *plan.DNS) {
	t.Helper()
	link := fmt.Sprintf("wg%d", i)
	d := &plan.DNS{Manager: plan.DNSFile, Servers: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", i+1))},
		Domains: []plan.Domain{{Name: fmt.Sprintf("t%d.example", i)}, {Name: "corp.example"}}}
	d.File = &plan.FileChange{Original: f.state(t), Content: fmt.Appendf(nil, "# for %s\n%s", link, d.ResolvConfText())}
	return link, d
}

func (f *ownerFixture) set(t *testing.T, i int) {
	t.Helper()
	link, d := f.tunnelDNS(t, i)
	if err := f.h.Set(t.Context(), link, d); err != nil {
		t.Fatalf("Set %s: %v", link, err)
	}
}

// revert takes tunnel i back with a plan made now — Revert must not need
// the one made at Set.
func (f *ownerFixture) revert(t *testing.T, i int) {
	t.Helper()
	link, d := f.tunnelDNS(t, i)
	if err := f.h.Revert(t.Context(), link, d); err != nil {
		t.Fatalf("Revert %s: %v", link, err)
	}
}

func (f *ownerFixture) statePath() string { return filepath.Join(f.h.LibDir, stateName) }

func (f *ownerFixture) kept(t *testing.T) bool {
	t.Helper()
	fi, err := os.Lstat(f.statePath())
	if os.IsNotExist(err) {
		return false
	}
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("durable state: %v, mode %v", err, fi.Mode())
	}
	return true
}

// wantOriginal checks that the original is back, byte for byte, link for
// link, mode and owner, and the durable state gone.
func (f *ownerFixture) wantOriginal(t *testing.T, what string) {
	t.Helper()
	now := f.state(t)
	if !now.Same(f.before) || now.Mode != f.before.Mode || now.UID != f.before.UID || now.GID != f.before.GID {
		t.Fatalf("%s: %s (mode %o), want %s (mode %o)", what, now, now.Mode, f.before, f.before.Mode)
	}
	if ents, _ := os.ReadDir(f.h.LibDir); len(ents) > 0 {
		t.Fatalf("%s: the durable directory is not empty: %v", what, ents)
	}
	if b, _ := os.ReadFile(f.target); string(b) != stubText {
		t.Fatalf("%s: the link's target changed: %q", what, b)
	}
}

// composed is the file for tunnels up, in connect order.
func composed(up []int) string {
	var names, servers []string
	search := []string{}
	for _, i := range up {
		names = append(names, fmt.Sprintf("wg%d", i))
		servers = append(servers, fmt.Sprintf("nameserver 203.0.113.%d\n", i+1))
		search = append(search, fmt.Sprintf("t%d.example", i))
		if !slices.Contains(search, "corp.example") {
			search = append(search, "corp.example")
		}
	}
	head := "# Written by wgtray for tunnel " + names[0] + "; the previous file comes back when it disconnects.\n"
	if len(names) > 1 {
		head = "# Written by wgtray for tunnels " + strings.Join(names, ", ") + "; the previous file comes back when the last of them disconnects.\n"
	}
	return head + strings.Join(servers, "") + "search " + strings.Join(search, " ") + "\n"
}

// TestFileOwnerEveryOrder: every order of ups and downs of 2 and 3
// tunnels, over a file, a symbolic link and no file at all: each step
// leaves exactly the connected tunnels' file, and the last down the
// original.
func TestFileOwnerEveryOrder(t *testing.T) {
	for _, kind := range []string{"file", "symlink", "absent"} {
		t.Run(kind, func(t *testing.T) {
			f := newOwnerFixture(t, kind)
			n := 0
			for _, tunnels := range []int{2, 3} {
				for _, order := range everyOrder(tunnels) {
					var up []int
					for step, ev := range order {
						if ev > 0 {
							f.set(t, ev-1)
							up = append(up, ev-1)
						} else {
							f.revert(t, -ev-1)
							up = slices.DeleteFunc(up, func(i int) bool { return i == -ev-1 })
						}
						what := fmt.Sprintf("order %v, step %d", order, step)
						if len(up) == 0 {
							f.wantOriginal(t, what)
							continue
						}
						if now := f.state(t); string(now.Data) != composed(up) || now.Symlink != "" || now.Mode != 0o644 {
							t.Fatalf("%s: %s, mode %o:\n%s\nwant:\n%s", what, now, now.Mode, now.Data, composed(up))
						}
						if !f.kept(t) {
							t.Fatalf("%s: no durable state", what)
						}
					}
					n++
				}
			}
			if n != 6+90 {
				t.Errorf("%d orders, want 96", n)
			}
		})
	}
}

// everyOrder returns every order of n tunnels' ups (+i) and downs (-i),
// i from 1, each up before its down.
func everyOrder(n int) [][]int {
	var out [][]int
	state := make([]int, n+1)
	var walk func(seq []int)
	walk = func(seq []int) {
		if len(seq) == 2*n {
			out = append(out, slices.Clone(seq))
			return
		}
		for i := 1; i <= n; i++ {
			if state[i] == 2 {
				continue
			}
			state[i]++
			ev := i
			if state[i] == 2 {
				ev = -i
			}
			walk(append(seq, ev))
			state[i]--
		}
	}
	walk(nil)
	return out
}

// editState rewrites the durable state as fn says.
func (f *ownerFixture) editState(t *testing.T, fn func(*fileState)) {
	t.Helper()
	b, err := os.ReadFile(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	fn(&st)
	if err := saveState(f.statePath(), &st); err != nil {
		t.Fatal(err)
	}
}

// TestFileOwnerRecover: after a reboot (another boot ID in the state,
// the journals gone) Recover puts the original back; a tunnel whose
// helper still runs — this process — stays.
func TestFileOwnerRecover(t *testing.T) {
	for _, kind := range []string{"file", "symlink"} {
		t.Run(kind, func(t *testing.T) {
			f := newOwnerFixture(t, kind)
			f.set(t, 0)
			f.set(t, 1)
			if err := f.h.Recover(t.Context()); err != nil {
				t.Fatal(err)
			}
			if now := f.state(t); string(now.Data) != composed([]int{0, 1}) {
				t.Fatalf("Recover dropped tunnels that are up: %s", now.Data)
			}
			f.editState(t, func(st *fileState) { st.Tunnels[0].Process.Boot = "an earlier boot" })
			if err := f.h.Recover(t.Context()); err != nil {
				t.Fatal(err)
			}
			if now := f.state(t); string(now.Data) != composed([]int{1}) {
				t.Fatalf("after wg0's boot ended: %s", now.Data)
			}
			f.editState(t, func(st *fileState) { st.Tunnels[0].Process.Start++ }) // its PID, another process
			if err := f.h.Recover(t.Context()); err != nil {
				t.Fatal(err)
			}
			f.wantOriginal(t, "after Recover")
			if err := f.h.Recover(t.Context()); err != nil {
				t.Errorf("Recover with nothing to do: %v", err)
			}
			if !strings.Contains(f.logs.String(), `tunnel "wg0" of helper process`) {
				t.Errorf("nothing logged: %q", f.logs.String())
			}
		})
	}
}

// TestFileOwnerForeignWrite: another program rewrites the file while
// tunnels use it. Its file is the one to come back: Set over it keeps
// the tunnels' servers on top, Recover with no tunnel left keeps it.
func TestFileOwnerForeignWrite(t *testing.T) {
	f := newOwnerFixture(t, "file")
	newer := []byte("nameserver 198.51.100.53\n")
	f.set(t, 0)
	if err := os.WriteFile(f.path, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	f.set(t, 1)
	if now := f.state(t); string(now.Data) != composed([]int{0, 1}) {
		t.Fatalf("Set over another program's file: %s", now.Data)
	}
	f.revert(t, 0)
	f.revert(t, 1)
	if now := f.state(t); string(now.Data) != string(newer) || f.kept(t) {
		t.Fatalf("after the downs: %q, state kept %v", now.Data, f.kept(t))
	}

	f.set(t, 0)
	os.Remove(f.path)
	if err := os.WriteFile(f.path, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	f.editState(t, func(st *fileState) { st.Tunnels[0].Process.Boot = "an earlier boot" })
	if err := f.h.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if now := f.state(t); string(now.Data) != string(newer) || now.Mode != 0o600 || f.kept(t) {
		t.Errorf("Recover over another program's file: %q mode %o, state kept %v", now.Data, now.Mode, f.kept(t))
	}
}

// TestFileOwnerFailedWrite: a Set whose write of the file fails, after
// the durable state was written, leaves the state as it was, so the
// tunnel is in neither: here the file's directory is gone.
func TestFileOwnerFailedWrite(t *testing.T) {
	f := newOwnerFixture(t, "file")
	dir := filepath.Dir(f.path)
	gone := dir + ".gone"
	rename := func(from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	// No state yet: none after the failure.
	rename(dir, gone)
	link, d := f.tunnelDNS(t, 0)
	if err := f.h.Set(t.Context(), link, d); err == nil {
		t.Fatal("Set succeeded without a directory")
	}
	if f.kept(t) {
		t.Error("a failed first Set left a durable state")
	}
	rename(gone, dir)
	// A state with one tunnel: the same bytes after the failure.
	f.set(t, 0)
	before, err := os.ReadFile(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	rename(dir, gone)
	link, d = f.tunnelDNS(t, 1)
	if err := f.h.Set(t.Context(), link, d); err == nil {
		t.Fatal("Set succeeded without a directory")
	}
	if after, _ := os.ReadFile(f.statePath()); string(after) != string(before) {
		t.Errorf("the state changed:\n%s\nwant:\n%s", after, before)
	}
	rename(gone, dir)
	f.revert(t, 0)
	f.wantOriginal(t, "after the failed Set and a Revert")
}

// TestFileOwnerUnsafeLibDir: a durable directory that is a symbolic link
// or that others may write is refused before anything changes.
func TestFileOwnerUnsafeLibDir(t *testing.T) {
	for _, kind := range []string{"symlink", "world-writable", "not a directory"} {
		t.Run(kind, func(t *testing.T) {
			f := newOwnerFixture(t, "file")
			real := t.TempDir()
			switch kind {
			case "symlink":
				if err := os.Symlink(real, f.h.LibDir); err != nil {
					t.Fatal(err)
				}
			case "world-writable":
				if err := os.Mkdir(f.h.LibDir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(f.h.LibDir, 0o777); err != nil {
					t.Fatal(err)
				}
			case "not a directory":
				if err := os.WriteFile(f.h.LibDir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			link, d := f.tunnelDNS(t, 0)
			if err := f.h.Set(t.Context(), link, d); err == nil {
				t.Fatal("Set succeeded")
			}
			if now := f.state(t); !now.Same(f.before) {
				t.Errorf("the file changed: %s", now.Data)
			}
			if ents, _ := os.ReadDir(real); len(ents) > 0 {
				t.Errorf("written through the link: %v", ents)
			}
		})
	}
}

// TestFileOwnerDamagedState: a state that cannot be read is reported,
// with its path, and nothing is changed.
func TestFileOwnerDamagedState(t *testing.T) {
	f := newOwnerFixture(t, "file")
	f.set(t, 0)
	file := f.state(t)
	if err := os.WriteFile(f.statePath(), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	link, d := f.tunnelDNS(t, 0)
	for _, err := range []error{f.h.Revert(t.Context(), link, d), f.h.Recover(t.Context())} {
		if err == nil || !strings.Contains(err.Error(), f.statePath()) {
			t.Errorf("got %v, want an error naming %s", err, f.statePath())
		}
	}
	if now := f.state(t); !now.Same(file) {
		t.Errorf("the file changed: %s", now.Data)
	}
}

// TestFileOwnerRecoverMakesNothing: a start with nothing kept creates no
// directory and no file.
func TestFileOwnerRecoverMakesNothing(t *testing.T) {
	h, _ := newHost(t)
	if err := h.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(h.LibDir); !os.IsNotExist(err) {
		t.Errorf("Recover made %s: %v", h.LibDir, err)
	}
}
