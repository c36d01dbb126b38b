package options

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func testDir(t *testing.T) (*Dir, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := open(dir, os.Geteuid(), os.Getegid())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

func TestSetAndRead(t *testing.T) {
	d, dir := testDir(t)
	v, err := d.TunnelValues("wg0")
	if err != nil || len(v) != 0 {
		t.Fatalf("fresh tunnel: %v, %v", v, err)
	}
	if !v.Bool(Tunnel, KillSwitch, true) || v.Bool(Tunnel, KillSwitch, false) {
		t.Error("unset kill-switch must follow the caller's default")
	}
	if !v.Bool(Tunnel, AllowLAN, false) {
		t.Error("allow-lan defaults to on")
	}
	if err := d.SetTunnel("wg0", KillSwitch, Off); err != nil {
		t.Fatal(err)
	}
	if err := d.SetTunnel("wg0", AllowLAN, Off); err != nil {
		t.Fatal(err)
	}
	v, err = d.TunnelValues("wg0")
	if err != nil {
		t.Fatal(err)
	}
	if v.Bool(Tunnel, KillSwitch, true) || v.Bool(Tunnel, AllowLAN, true) {
		t.Errorf("values not kept: %v", v)
	}
	fi, err := os.Lstat(filepath.Join(dir, "wg0.options"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "wg0.options"))
	want := "# wgtray's settings; change them with `wgtray set` or `wgtray lockdown`\nallow-lan=off\nkill-switch=off\n"
	if string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	if err := d.RemoveTunnel("wg0"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "wg0.options")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after RemoveTunnel: %v", err)
	}
	if err := d.RemoveTunnel("wg0"); err != nil {
		t.Errorf("second RemoveTunnel: %v", err)
	}
}

func TestInvalidChangesNothing(t *testing.T) {
	d, dir := testDir(t)
	for _, c := range []struct{ key, value string }{
		{"kill-switch", "maybe"}, {"killswitch", "on"}, {"lockdown", "on"}, {"", ""}, {"allow-lan", "ON"},
	} {
		if err := d.SetTunnel("wg0", c.key, c.value); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetTunnel(%q, %q) = %v, want ErrInvalid", c.key, c.value, err)
		}
	}
	if err := d.SetTunnel("../x", KillSwitch, On); err == nil {
		t.Error("bad tunnel name accepted")
	}
	if err := d.SetMachine(KillSwitch, On); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetMachine(kill-switch) = %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
}

func TestMachine(t *testing.T) {
	d, dir := testDir(t)
	v, err := d.MachineValues()
	if err != nil || v.Bool(Machine, Lockdown, true) {
		t.Fatalf("lockdown must default to off: %v %v", v, err)
	}
	if err := d.SetMachine(Lockdown, On); err != nil {
		t.Fatal(err)
	}
	v, _ = d.MachineValues()
	if !v.Bool(Machine, Lockdown, false) {
		t.Error("lockdown not on")
	}
	if _, err := os.Lstat(filepath.Join(dir, "options")); err != nil {
		t.Error(err)
	}
}

// TestSymlinkNotFollowed: a symlink planted under an options file's name
// is neither read through nor written through.
func TestSymlinkNotFollowed(t *testing.T) {
	d, dir := testDir(t)
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("kill-switch=off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "wg0.options")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.TunnelValues("wg0"); err == nil {
		t.Error("read through a symlink")
	}
	if err := d.SetTunnel("wg0", KillSwitch, On); err == nil {
		t.Error("set on top of a symlink it cannot read")
	}
	data, _ := os.ReadFile(target)
	if string(data) != "kill-switch=off\n" {
		t.Errorf("target changed: %q", data)
	}
}

func TestUnknownKeysKept(t *testing.T) {
	d, dir := testDir(t)
	if err := os.WriteFile(filepath.Join(dir, "wg0.options"), []byte("future=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.SetTunnel("wg0", AllowLAN, Off); err != nil {
		t.Fatal(err)
	}
	v, _ := d.TunnelValues("wg0")
	if v["future"] != "1" || v[AllowLAN] != Off {
		t.Errorf("values %v", v)
	}
}

// TestStoreMakesNoMachineDirToRead: reading the machine-wide options of a
// machine that never set one creates nothing; setting one makes the
// directory.
func TestStoreMakesNoMachineDirToRead(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "lib")
	s, err := OpenStore(t.TempDir(), lib)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.MachineValues(); err != nil || len(v) != 0 {
		t.Fatalf("MachineValues = %v, %v", v, err)
	}
	if _, err := os.Lstat(lib); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading made %s: %v", lib, err)
	}
	if err := s.SetMachine(Lockdown, "maybe"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetMachine(bad) = %v", err)
	}
	if _, err := os.Lstat(lib); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused set made %s: %v", lib, err)
	}
	if err := s.SetMachine(Lockdown, On); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"options", LockdownMarker} {
		if _, err := os.Lstat(filepath.Join(lib, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := s.SetMachine(Lockdown, Off); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(lib, LockdownMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lockdown off left the marker: %v", err)
	}
}
