package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/ipc"
)

func TestList(t *testing.T) {
	s := newStore(t)
	if names, err := s.List(); err != nil || names == nil || len(names) != 0 {
		t.Errorf("empty store: List = %#v, %v", names, err)
	}
	for _, f := range []string{"work.conf", "home.conf", "a.conf", "notes.txt", "bad name.conf", "0123456789abcdef.conf", ".conf", ".hidden.conf.tmp-X"} {
		write(t, s, f, good)
	}
	linkOutside(t, s, "linked")
	if err := os.Mkdir(filepath.Join(s.Dir(), "dir.conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(s.Dir(), "fifo.conf"), 0o600); err != nil {
		t.Fatal(err)
	}
	names, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "home", "work"}; !slices.Equal(names, want) {
		t.Errorf("List = %v, want %v", names, want)
	}
}

func TestRead(t *testing.T) {
	s := newStore(t)
	write(t, s, "wg0.conf", good)
	if got, err := s.Read("wg0"); err != nil || string(got) != good {
		t.Errorf("Read = %q, %v", got, err)
	}
	full := strings.Repeat("#", ipc.MaxConfigSize)
	write(t, s, "full.conf", full)
	if got, err := s.Read("full"); err != nil || len(got) != ipc.MaxConfigSize {
		t.Errorf("Read of exactly MaxConfigSize = %d bytes, %v", len(got), err)
	}
	if _, err := s.Read("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing tunnel = %v, want fs.ErrNotExist", err)
	}
}

func TestReadRefuses(t *testing.T) {
	s := newStore(t)
	linkOutside(t, s, "link")
	if err := os.Mkdir(filepath.Join(s.Dir(), "dir.conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Opening a FIFO for reading would block until a writer came.
	if err := unix.Mkfifo(filepath.Join(s.Dir(), "fifo.conf"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, s, "big.conf", strings.Repeat("#", ipc.MaxConfigSize+1))
	for name, want := range map[string]string{
		"link":   "is a symlink",
		"dir":    "not a regular file",
		"fifo":   "not a regular file",
		"big":    "larger than 65536 bytes",
		"../x":   "tunnel name",
		"":       "tunnel name",
		"a\x00b": "tunnel name",
	} {
		data, err := s.Read(name)
		wantErr(t, err, want)
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read(%q): %v matches fs.ErrNotExist", name, err)
		}
		if data != nil {
			t.Errorf("Read(%q) returned data", name)
		}
	}
}
