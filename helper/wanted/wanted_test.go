package wanted

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAddRemoveDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lib")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"work", "home", "work"} {
		if err := s.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove("nope"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v; want mode 0600", fi, err)
	}
	again, err := Open(dir)
	if err != nil || !slices.Equal(again.List(), []string{"home", "work"}) {
		t.Fatalf("reopened: %v, %v", again.List(), err)
	}
	if err := again.Remove("home"); err != nil {
		t.Fatal(err)
	}
	if third, _ := Open(dir); !slices.Equal(third.List(), []string{"work"}) {
		t.Errorf("after Remove: %v", third.List())
	}
	if err := again.Remove("work"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !os.IsNotExist(err) {
		t.Errorf("the file with nothing wanted: %v, want none", err)
	}
}

// TestOtherBoot: wishes of another boot are void; bad names and a file
// that is not JSON are refused without failing the helper.
func TestOtherBoot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	os.WriteFile(path, []byte(`{"boot":"00000000-0000-0000-0000-000000000000","tunnels":["home"]}`), 0o600)
	if s, err := Open(dir); err != nil || len(s.List()) != 0 {
		t.Errorf("another boot's wishes: %v, %v; want none", s.List(), err)
	}
	s, _ := Open(dir)
	s.Add("home")
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), `"home"`, `"home","../etc","a b"`, 1)), 0o600)
	if s, err := Open(dir); err != nil || !slices.Equal(s.List(), []string{"home"}) {
		t.Errorf("with bad names: %v, %v; want home only", s.List(), err)
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if s, err := Open(dir); err == nil || len(s.List()) != 0 {
		t.Errorf("garbage: %v, %v; want an error and no wishes", s.List(), err)
	}
}

// TestWriteFails: a wish that cannot be written (a file where the
// directory should be: root writes through any mode) is not recorded.
func TestWriteFails(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(blocker, "lib"))
	if err == nil {
		t.Fatal("Open read a file under a file")
	}
	if err := s.Add("home"); err == nil {
		t.Fatal("Add succeeded where nothing can be written")
	}
	if len(s.List()) != 0 {
		t.Errorf("unwritten wish recorded: %v", s.List())
	}
}
