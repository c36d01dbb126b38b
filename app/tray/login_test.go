package tray

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLoginPrefs(t *testing.T) {
	dir := t.TempDir()
	p := loadLogin(dir)
	if !p.Autostart || len(p.Connect) != 0 {
		t.Fatalf("defaults %+v: want autostart on, nothing connected at login", p)
	}
	if err := p.setConnect("work", true); err != nil {
		t.Fatal(err)
	}
	if err := p.setConnect("home", true); err != nil {
		t.Fatal(err)
	}
	if err := p.setConnect("work", false); err != nil {
		t.Fatal(err)
	}
	if err := p.setAutostart(false); err != nil {
		t.Fatal(err)
	}
	q := loadLogin(dir)
	if q.Autostart || !slices.Equal(q.Connect, []string{"home"}) || !q.ConnectsAtLogin("home") {
		t.Errorf("reloaded %+v: want autostart off, home at login", q)
	}
	data, err := os.ReadFile(filepath.Join(dir, autostartFile))
	if err != nil || !hidden(string(data)) {
		t.Errorf("autostart override %q, %v: want Hidden=true", data, err)
	}
	if err := q.setAutostart(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, autostartFile)); !os.IsNotExist(err) {
		t.Errorf("override left after switching autostart on: %v", err)
	}
	// An override the user wrote, not hiding the entry, is theirs.
	own := "[Desktop Entry]\nType=Application\nName=wgtray\nExec=wgtray --verbose\n"
	os.WriteFile(filepath.Join(dir, autostartFile), []byte(own), 0o644)
	r := loadLogin(dir)
	if err := r.setAutostart(true); err != nil || !r.Autostart {
		t.Fatalf("on over the user's own entry: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, autostartFile)); string(data) != own {
		t.Errorf("the user's own entry was changed: %q", data)
	}
}
