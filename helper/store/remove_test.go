package store

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"testing"
)

func TestRemove(t *testing.T) {
	s := newStore(t)
	if err := s.Import("wg0", []byte(good)); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("wg0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("wg0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Read("wg0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read after Remove = %v, want fs.ErrNotExist", err)
	}
	if err := s.Remove("../wireguard"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove of an invalid name = %v", err)
	}
}

func TestRemoveSymlinkKeepsTarget(t *testing.T) {
	s := newStore(t)
	target := linkOutside(t, s, "link")
	if err := s.Remove("link"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("the symlink's target is gone: %v", err)
	}
	if got := listing(t, s.Dir()); !slices.Equal(got, nil) {
		t.Errorf("directory holds %v", got)
	}
}
