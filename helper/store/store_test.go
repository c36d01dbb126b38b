package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// good is a minimal valid config.
const good = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"

// newStore returns a store in a fresh directory. Unprivileged, it expects
// the test's own user to own the directory and the files, since only root
// can make root-owned ones; the logic is the same.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := open(filepath.Join(t.TempDir(), "wireguard"), os.Geteuid(), os.Getegid())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// linkOutside puts a good config outside the store and a symbolic link
// to it in the store as tunnel name, and returns the target's path.
func linkOutside(t *testing.T, s *Store, name string) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), "target.conf")
	if err := os.WriteFile(target, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(s.Dir(), name+".conf")); err != nil {
		t.Fatal(err)
	}
	return target
}

// listing returns the names in dir, temporary files included.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// write creates a file in the store's directory behind its back.
func write(t *testing.T, s *Store, file, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.Dir(), file), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Errorf("error %v, want one containing %q", err, substr)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wireguard")
	s, err := open(dir, os.Geteuid(), os.Getegid())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("created %v, want drwx------", fi.Mode())
	}
	if s.Dir() != dir {
		t.Errorf("Dir = %s", s.Dir())
	}
	// Opening an existing good directory works too.
	s2, err := open(dir, os.Geteuid(), os.Getegid())
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestOpenAsRoot(t *testing.T) {
	netns.RequireRootFor(t, "Open accepts only root-owned directories, which only root can create")
	s, err := Open(filepath.Join(t.TempDir(), "wireguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Import("wg0", []byte(good)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(s.Dir(), "wg0.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("owner %d:%d, want 0:0", st.Uid, st.Gid)
	}
}

func TestOpenRefuses(t *testing.T) {
	uid, gid := os.Geteuid(), os.Getegid()
	base := t.TempDir()
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		// Explicitly: Mkdir's mode is subject to the umask.
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mkdir("good", 0o700)
	link := filepath.Join(base, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"symlink to a directory", link, "is a symlink"},
		{"group-writable", mkdir("group", 0o770), "writable by its group or others"},
		{"world-writable", mkdir("world", 0o707), "writable by its group or others"},
		{"sticky world-writable", mkdir("tmp", os.ModeSticky|0o777), "writable by its group or others"},
		{"regular file", file, "not a directory"},
		{"missing parent", filepath.Join(base, "missing", "wireguard"), "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := open(tc.dir, uid, gid)
			if err == nil {
				s.Close()
			}
			wantErr(t, err, tc.want)
		})
	}
	t.Run("not root-owned", func(t *testing.T) {
		dir := mkdir("other", 0o700)
		if os.Geteuid() == 0 {
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		// Unprivileged, the test's own directory is not root's either.
		s, err := Open(dir)
		if err == nil {
			s.Close()
		}
		wantErr(t, err, "owned by uid")
	})
	if got := listing(t, good); len(got) != 0 {
		t.Errorf("a refused directory was written to: %v", got)
	}
	if got := listing(t, base); !slices.Equal(got, []string{"file", "good", "group", "link", "other", "tmp", "world"}) {
		t.Errorf("the refusals changed %s: %v", base, got)
	}
}
