package journal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type rec struct {
	N int `json:"n"`
}

func TestAppendReadRemove(t *testing.T) {
	dir := t.TempDir()
	j, err := Create(dir, "wg0")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := j.Append(rec{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Create(dir, "wg0"); err == nil {
		t.Fatal("second Create of the same tunnel succeeded; want an error")
	}
	paths, err := List(dir)
	if err != nil || len(paths) != 1 {
		t.Fatalf("List = %v, %v; want one journal", paths, err)
	}
	fi, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
	e, err := Read(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Header.Tunnel != "wg0" || e.Header.PID != os.Getpid() {
		t.Errorf("header = %+v", e.Header)
	}
	if len(e.Records) != 3 {
		t.Fatalf("got %d records, want 3", len(e.Records))
	}
	for i, r := range e.Records {
		var got rec
		if err := json.Unmarshal(r, &got); err != nil || got.N != i {
			t.Errorf("record %d = %s (%v)", i, r, err)
		}
	}
	if err := j.Remove(); err != nil {
		t.Fatal(err)
	}
	if paths, _ := List(dir); len(paths) != 0 {
		t.Errorf("journals left after Remove: %v", paths)
	}
	if err := Discard(j.Path()); err != nil {
		t.Errorf("second removal: %v", err)
	}
}

func TestTornLastLineIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wg1.journal")
	data := `{"tunnel":"wg1","pid":1}` + "\n" + `{"n":1}` + "\n" + `{"n":`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Records) != 1 {
		t.Errorf("got %d records, want 1 (the torn one dropped)", len(e.Records))
	}
}

func TestReadRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte(`{"tunnel":"x","pid":1}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "x.journal")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(link); err == nil {
		t.Error("Read followed a symlink")
	}
	if _, err := Create(dir, "x"); err == nil {
		t.Error("Create wrote through an existing symlink")
	}
	if paths, _ := List(dir); len(paths) != 0 {
		t.Errorf("List returned a symlink: %v", paths)
	}
}
