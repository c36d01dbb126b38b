package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// Unpacked returns a directory holding the files of Debian package pkg,
// fetched with `apt-get download` and unpacked with `dpkg -x` into the
// repository's build/sysroot, never installed: installing systemd-resolved
// or a resolvconf would take over this machine's /etc/resolv.conf. The
// unpacked tree is kept for later runs.
func Unpacked(tb testing.TB, pkg string) string {
	tb.Helper()
	base := filepath.Join(repo.Root(tb), "build", "sysroot")
	if err := os.MkdirAll(base, 0o755); err != nil {
		tb.Fatal(err)
	}
	// Test binaries run in parallel: one downloads, the others wait.
	lock, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(base, pkg)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	dl := tb.TempDir()
	download := func() ([]byte, error) {
		get := exec.Command("apt-get", "download", pkg)
		get.Dir = dl
		return get.CombinedOutput()
	}
	if _, err := download(); err != nil {
		// Package lists may be missing or stale (make deps updates them
		// only when it installs something): update once and try again.
		if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
			tb.Fatalf("apt-get update: %v\n%s", err, out)
		}
		if out, err := download(); err != nil {
			tb.Fatalf("apt-get download %s: %v\n%s", pkg, err, out)
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dl, pkg+"_*.deb"))
	if len(debs) != 1 {
		tb.Fatalf("apt-get download %s left %v", pkg, debs)
	}
	os.RemoveAll(dir)
	if out, err := exec.Command("dpkg", "-x", debs[0], dir).CombinedOutput(); err != nil {
		tb.Fatalf("dpkg -x %s: %v\n%s", debs[0], err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), []byte(filepath.Base(debs[0])+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}
