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

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/ipc"
)

func TestImport(t *testing.T) {
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
		t.Log("not root: the owner root:root is not checked")
	}
	if got, err := s.Read("wg0"); err != nil || string(got) != good {
		t.Errorf("Read = %q, %v", got, err)
	}
	if names, err := s.List(); err != nil || !slices.Equal(names, []string{"wg0"}) {
		t.Errorf("List = %v, %v", names, err)
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"wg0.conf"}) {
		t.Errorf("directory holds %v, want only wg0.conf", got)
	}
}

func TestImportUnderUmask(t *testing.T) {
	s := newStore(t)
	old := syscall.Umask(0o277)
	defer syscall.Umask(old)
	if err := s.Import("wg0", []byte(good)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(s.Dir(), "wg0.conf")); err != nil || fi.Mode() != 0o600 {
		t.Errorf("mode %v (%v), want -rw------- whatever the umask", fi.Mode(), err)
	}
}

func TestImportNeverOverwrites(t *testing.T) {
	s := newStore(t)
	const old = good + "# the original\n"
	write(t, s, "wg0.conf", old)
	err := s.Import("wg0", []byte(good))
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("Import over an existing tunnel = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir(), "wg0.conf")); string(b) != old {
		t.Error("the existing config was changed")
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"wg0.conf"}) {
		t.Errorf("directory holds %v: a temporary file was left", got)
	}
}

func TestImportNeverFollowsSymlinks(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dest := range map[string]string{
		"live":     target,                           // a symlink to a file
		"dangling": filepath.Join(outside, "absent"), // to nothing: creating through it would work
	} {
		if err := os.Symlink(dest, filepath.Join(s.Dir(), name+".conf")); err != nil {
			t.Fatal(err)
		}
		if err := s.Import(name, []byte(good)); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Import over a %s symlink = %v, want fs.ErrExist", name, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Error("Import wrote through a symlink")
	}
	if _, err := os.Lstat(filepath.Join(outside, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Import created a file through a dangling symlink")
	}
	if got := listing(t, outside); !slices.Equal(got, []string{"target"}) {
		t.Errorf("outside directory holds %v", got)
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"dangling.conf", "live.conf"}) {
		t.Errorf("store holds %v", got)
	}
}

func TestImportInvalidNameWritesNothing(t *testing.T) {
	s := newStore(t)
	write(t, s, "keep.conf", good)
	for _, name := range []string{"../x", "a/b", "", "0123456789abcdef", ".", "..", "a\x00b", "a\nb", "wg0.conf/..", "/etc/x"} {
		if err := s.Import(name, []byte(good)); err == nil {
			t.Errorf("Import(%q) succeeded", name)
		}
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"keep.conf"}) {
		t.Errorf("directory changed: %v", got)
	}
	if got := listing(t, filepath.Dir(s.Dir())); !slices.Equal(got, []string{"wireguard"}) {
		t.Errorf("parent directory changed: %v", got)
	}
}

func TestImportInvalidConfigWritesNothing(t *testing.T) {
	s := newStore(t)
	write(t, s, "keep.conf", good)
	for _, cfg := range []string{
		"",
		"[Interface]\n",
		"[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = not-an-address\n",
		strings.Repeat("#", ipc.MaxConfigSize+1),
		"\xff",
		"[Interface]\x00",
	} {
		err := s.Import("wg1", []byte(cfg))
		var perr *config.ParseError
		if !errors.As(err, &perr) {
			t.Errorf("Import of a bad config = %v, want config's *ParseError as is", err)
		}
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"keep.conf"}) {
		t.Errorf("directory changed: %v", got)
	}
}

func TestImportConcurrentOneWins(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Import("race", []byte(good+strings.Repeat("#", i)+"\n"))
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("a losing Import failed with %v, want fs.ErrExist", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d imports succeeded, want exactly 1", wins)
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"race.conf"}) {
		t.Errorf("directory holds %v", got)
	}
	// The winner's file is whole.
	if b, err := s.Read("race"); err != nil || !strings.HasPrefix(string(b), good) {
		t.Errorf("Read = %q, %v", b, err)
	}
}

// TestLinkNeverReplaces checks the fallback for file systems without
// RENAME_NOREPLACE, which tmpfs and ext4 do not need.
func TestLinkNeverReplaces(t *testing.T) {
	s := newStore(t)
	write(t, s, "tmp1", "new")
	write(t, s, "taken.conf", "old")
	if err := os.Symlink(filepath.Join(t.TempDir(), "absent"), filepath.Join(s.Dir(), "link.conf")); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"taken.conf", "link.conf"} {
		if err := link(s.fd, "tmp1", dst); !errors.Is(err, unix.EEXIST) {
			t.Errorf("link onto %s = %v, want EEXIST", dst, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir(), "taken.conf")); string(b) != "old" {
		t.Error("link replaced a file")
	}
	if err := link(s.fd, "tmp1", "free.conf"); err != nil {
		t.Fatal(err)
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, []string{"free.conf", "link.conf", "taken.conf"}) {
		t.Errorf("directory holds %v", got)
	}
}
