package dns

import (
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/plan"
)

// fileDNS plans the resolv.conf change for the file as it is now.
func fileDNS(t *testing.T, path string) *plan.DNS {
	t.Helper()
	orig, err := ReadFileState(path)
	if err != nil {
		t.Fatal(err)
	}
	content := "# Written by wgtray for tunnel wg0; the previous file comes back when it disconnects.\nnameserver 203.0.113.1\n"
	return &plan.DNS{Manager: plan.DNSFile, Servers: []netip.Addr{netip.MustParseAddr("203.0.113.1")},
		File: &plan.FileChange{Original: orig, Content: []byte(content)}}
}

// newHost is a Host whose durable directory is the test's.
func newHost(t *testing.T) (*Host, *strings.Builder) {
	var logs strings.Builder
	return &Host{Logger: log.New(&logs, "", 0), LibDir: filepath.Join(t.TempDir(), "lib")}, &logs
}

// TestFileSetRevert covers the three originals: a regular file (its
// bytes and mode come back), a symbolic link (the link comes back, its
// target untouched) and no file at all.
func TestFileSetRevert(t *testing.T) {
	for _, kind := range []string{"file", "symlink", "absent"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "resolv.conf")
			target := filepath.Join(dir, "stub-resolv.conf")
			targetData := []byte("nameserver 127.0.0.53\noptions edns0 trust-ad\n")
			if err := os.WriteFile(target, targetData, 0o644); err != nil {
				t.Fatal(err)
			}
			switch kind {
			case "file":
				if err := os.WriteFile(path, []byte("# mine\nnameserver 192.0.2.53\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			case "symlink":
				if err := os.Symlink("stub-resolv.conf", path); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := ReadFileState(path)
			h, _ := newHost(t)
			d := fileDNS(t, path)
			if err := h.Set(t.Context(), "wg0", d); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("after Set, %s is not a regular file: %v", path, err)
			}
			if got, _ := os.ReadFile(path); string(got) != string(d.File.Content) {
				t.Errorf("after Set: %q", got)
			}
			// Set again, as a retried step would: no error, no change.
			if err := h.Set(t.Context(), "wg0", d); err != nil {
				t.Errorf("second Set: %v", err)
			}
			for range 2 { // Revert is idempotent
				if err := h.Revert(t.Context(), "wg0", d); err != nil {
					t.Fatal(err)
				}
				after, err := ReadFileState(path)
				if err != nil {
					t.Fatal(err)
				}
				if !after.Same(before) || after.Mode != before.Mode {
					t.Errorf("after Revert %s (mode %o), want %s (mode %o)", after, after.Mode, before, before.Mode)
				}
			}
			if got, _ := os.ReadFile(target); string(got) != string(targetData) {
				t.Errorf("the link's target changed: %q", got)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".wgtray-*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestFileRevertKeepsNewerFile: a file another program wrote while the
// tunnel was up is not replaced by the old one.
func TestFileRevertKeepsNewerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, logs := newHost(t)
	d := fileDNS(t, path)
	if err := h.Set(t.Context(), "wg0", d); err != nil {
		t.Fatal(err)
	}
	newer := []byte("nameserver 198.51.100.53\n")
	if err := os.WriteFile(path, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Revert(t.Context(), "wg0", d); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(newer) {
		t.Errorf("Revert replaced a newer file: %q", got)
	}
	if !strings.Contains(logs.String(), "changed by another program") {
		t.Errorf("nothing logged: %q", logs.String())
	}
}

// TestFileSetRefusesChangedOriginal: Set fails, changing nothing, when the
// file is no longer the one the plan was made for.
func TestFileSetRefusesChangedOriginal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, _ := newHost(t)
	d := fileDNS(t, path)
	other := []byte("nameserver 198.51.100.53\n")
	if err := os.WriteFile(path, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Set(t.Context(), "wg0", d); err == nil {
		t.Fatal("Set succeeded over a changed file")
	}
	if got, _ := os.ReadFile(path); string(got) != string(other) {
		t.Errorf("Set changed the file: %q", got)
	}
}
