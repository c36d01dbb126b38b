package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const good = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"

func newStore(t *testing.T) *Store {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the store accepts only root-owned directories; run as root (sudo make test)")
	}
	dir := filepath.Join(t.TempDir(), "wireguard")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

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

func TestImportReadListRemove(t *testing.T) {
	s := newStore(t)
	if err := s.Import("wg0", []byte(good)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(s.Dir(), "wg0.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("mode %v, want -rw-------", fi.Mode())
	}
	if os.Geteuid() == 0 {
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
			t.Errorf("owner %d:%d, want 0:0", st.Uid, st.Gid)
		}
	} else {
		t.Log("not root: ownership not checked")
	}
	if got, err := s.Read("wg0"); err != nil || string(got) != good {
		t.Errorf("Read = %q, %v", got, err)
	}
	if err := s.Import("wg0", []byte(good)); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Import = %v, want ErrExist", err)
	}
	os.WriteFile(filepath.Join(s.Dir(), "notes.txt"), nil, 0o600)
	os.WriteFile(filepath.Join(s.Dir(), "bad name.conf"), nil, 0o600)
	if names, err := s.List(); err != nil || !slices.Equal(names, []string{"wg0"}) {
		t.Errorf("List = %v, %v", names, err)
	}
	if err := s.Remove("wg0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("wg0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove = %v, want ErrNotExist", err)
	}
	if _, err := s.Read("wg0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read after Remove = %v", err)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	s := newStore(t)
	before := listing(t, s.Dir())
	for _, name := range []string{"../x", "a/b", "", "0123456789abcdef", ".", "..", "a\x00b", "a\nb"} {
		if err := s.Import(name, []byte(good)); err == nil {
			t.Errorf("Import(%q) succeeded", name)
		}
	}
	for _, cfg := range []string{"", "[Interface]\n", strings.Repeat("#", 70000), "\xff"} {
		if err := s.Import("wg1", []byte(cfg)); err == nil {
			t.Errorf("Import of a bad config succeeded")
		}
	}
	if after := listing(t, s.Dir()); !slices.Equal(before, after) {
		t.Errorf("directory changed: %v -> %v", before, after)
	}
}

func TestSymlinksRefused(t *testing.T) {
	s := newStore(t)
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte(good), 0o600)
	link := filepath.Join(s.Dir(), "wg2.conf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read("wg2"); err == nil {
		t.Error("Read followed a symlink")
	}
	if err := s.Import("wg2", []byte(good+"# new\n")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Import over a symlink = %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(target); string(b) != good {
		t.Error("Import wrote through the symlink")
	}
	if names, _ := s.List(); len(names) != 0 {
		t.Errorf("List shows symlinks: %v", names)
	}
	dirLink := filepath.Join(t.TempDir(), "link")
	os.Symlink(s.Dir(), dirLink)
	if _, err := Open(dirLink); err == nil {
		t.Error("Open accepted a symlinked directory")
	}
}

func TestUnsafeDirectoryRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	os.Mkdir(dir, 0o700)
	os.Chmod(dir, 0o775)
	if _, err := Open(dir); err == nil {
		t.Error("Open accepted a group-writable directory")
	}
	if os.Geteuid() == 0 {
		own := filepath.Join(t.TempDir(), "notroot")
		os.Mkdir(own, 0o700)
		os.Chown(own, 65534, 65534)
		if _, err := Open(own); err == nil {
			t.Error("Open accepted a directory not owned by root")
		}
	}
}

func TestConcurrentImportsOneWins(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Import("race", []byte(good)); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, fs.ErrExist) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d imports succeeded, want exactly 1", wins)
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"race.conf"}) {
		t.Errorf("directory holds %v", got)
	}
}
