// Package nspawn boots Debian under its own systemd as PID 1, in a
// systemd-nspawn container, for tests that need the real thing: D-Bus
// activation by systemd, a unit's sandbox, the journal, logind and
// systemd-resolved. The trees are made once per suite with debootstrap
// and cached under /var/tmp; each boot sees them through an overlay
// (--volatile=overlay), so the cache stays as built. A container has a
// private network (only its own loopback until a test adds links), so
// nothing here touches the machine's own networking.
//
// A test of a unit, in outline:
//
//	c := nspawn.Boot(t, nspawn.Get(t, "bookworm"), nspawn.Options{})
//	c.CopyIn(t, deb, "/srv/wgtray/pkg.deb", 0o644)
//	c.MustRun(t, "apt-get", "install", "-y", "/srv/wgtray/pkg.deb")
//	c.MustRun(t, "systemctl", "start", "some.service")
//	out, err := c.Run(t, &nspawn.RunOpts{User: "someone"}, "wgtray", "list")
//	log := c.Journal(t, "-u", "some.service")
//
// Commands run as transient units of the container's systemd (Run,
// Start); Path and WriteFile reach its files from here. The container
// powers off when the test ends. packaging's TestInstalledUnderSystemd
// uses all of it.
package nspawn

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// CacheDir holds the trees, one per suite and package list.
const CacheDir = "/var/tmp/wgtray-nspawn"

// DefaultMirror is used when the machine's apt sources name no Debian
// archive.
const DefaultMirror = "http://deb.debian.org/debian"

// BootPackages are installed by debootstrap itself: what booting needs.
var BootPackages = []string{"systemd", "systemd-sysv", "dbus"}

// Packages are installed afterwards with apt-get in a container that is
// not booted (polkitd cannot be configured inside debootstrap): what the
// wgtray package depends on, logind sessions, systemd-resolved (enabled
// by its package), and the tools the tests use inside the container: a
// WireGuard peer (Debian's wireguard-go and wg), ip and nft to read the
// state, ping, dnsmasq as the tunnel's DNS server, and man-db, which
// systemd-analyze verify runs for a unit's Documentation=man:. And the
// network managers whose coexistence packaging's TestNetworkManagers
// checks, NetworkManager and (Debian 13 has it in a package of its own)
// systemd-networkd, with tcpdump to count what leaks: installed but
// disabled (see Managers), so that the other tests' containers are left
// alone by them.
var Packages = []string{
	"polkitd", "libpam-systemd", "systemd-resolved", "passwd",
	"iproute2", "nftables", "wireguard-go", "wireguard-tools",
	"iputils-ping", "procps", "dnsmasq-base", "man-db",
	"network-manager", "tcpdump",
}

// Managers are the network managers' units, disabled in the tree: a test
// that wants one enables and starts it in its own boot (--volatile keeps
// the tree as built).
var Managers = []string{
	"NetworkManager.service", "NetworkManager-wait-online.service", "NetworkManager-dispatcher.service",
	"systemd-networkd.service", "systemd-networkd.socket", "systemd-networkd-wait-online.service",
}

// layout is part of the cache key: bump it when the way a tree is made
// changes in a way the package lists do not show.
const layout = "2"

// Image is a cached Debian tree ready to boot.
type Image struct {
	Suite string // bookworm, trixie, ...
	Dir   string // the tree, below CacheDir
}

// Key returns the cache key of a tree: it changes when the suite, the
// mirror, either package list or the layout does.
func Key(suite, mirror string) string {
	h := sha256.New()
	fmt.Fprintf(h, "layout %s\nsuite %s\nmirror %s\nboot %s\npackages %s\n",
		layout, suite, mirror, strings.Join(BootPackages, ","), strings.Join(Packages, ","))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Get returns the tree of suite, making it first if the cache lacks it
// (a few minutes: debootstrap, then apt-get). Trees of the same suite
// with another key are removed. Test binaries running at the same time
// wait for one another on a lock.
func Get(tb testing.TB, suite string) *Image {
	tb.Helper()
	RequireTools(tb)
	mirror := Mirror()
	dir := filepath.Join(CacheDir, suite+"-"+Key(suite, mirror))
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(CacheDir, ".lock-"+suite), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		tb.Fatal(err)
	}
	img := &Image{Suite: suite, Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return img
	}
	// Older trees of this suite (another package list) and a build that
	// a killed run left half done.
	old, _ := filepath.Glob(filepath.Join(CacheDir, suite+"-*"))
	for _, o := range old {
		tb.Logf("nspawn: removing the outdated or unfinished tree %s", o)
		if err := os.RemoveAll(o); err != nil {
			tb.Fatalf("remove %s: %v", o, err)
		}
	}
	start := time.Now()
	tmp := dir + ".tmp"
	if err := build(tb, suite, mirror, tmp); err != nil {
		os.RemoveAll(tmp)
		tb.Fatalf("nspawn: making the %s tree: %v", suite, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), []byte(Key(suite, mirror)+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("nspawn: made the %s tree %s in %v", suite, dir, time.Since(start).Round(time.Second))
	return img
}

// build makes a tree in dir: debootstrap with BootPackages, the rest with
// apt-get inside a container that is not booted.
func build(tb testing.TB, suite, mirror, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(BootPackages, ","), suite, dir, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("debootstrap %s: %w\n%s", suite, err, tail(out, 40))
	}
	// debootstrap copies the machine's host name; the container has its
	// own (its machine id is the tree's, made by systemd's postinst).
	if err := os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("wgtray-test\n"), 0o644); err != nil {
		return err
	}
	install := append([]string{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends"}, Packages...)
	for _, args := range [][]string{{"update", "-qq"}, install} {
		out, err := runUnbooted(ctx, dir, append([]string{"apt-get"}, args...)...)
		if err != nil {
			return fmt.Errorf("apt-get %s in the %s tree: %w\n%s", args[0], suite, err, tail(out, 40))
		}
	}
	// systemd-networkd is a package of its own from Debian 13 on, part
	// of systemd before.
	networkd := `if apt-cache show systemd-networkd >/dev/null 2>&1; then apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends systemd-networkd; fi; ` +
		`for u in ` + strings.Join(Managers, " ") + `; do if [ -e /lib/systemd/system/$u ]; then systemctl disable $u; fi; done; apt-get clean`
	if out, err := runUnbooted(ctx, dir, "/bin/sh", "-ec", networkd); err != nil {
		return fmt.Errorf("network managers in the %s tree: %w\n%s", suite, err, tail(out, 40))
	}
	return nil
}

// runUnbooted runs argv in tree dir with systemd-nspawn, without booting
// it and with the machine's network (apt-get downloads), from a cgroup of
// its own.
func runUnbooted(ctx context.Context, dir string, argv ...string) ([]byte, error) {
	cg, err := newCgroup()
	if err != nil {
		return nil, err
	}
	defer cg.remove()
	args := append([]string{"-q", "-D", dir, "--register=no", "--keep-unit",
		"-E", "DEBIAN_FRONTEND=noninteractive", "-E", "LC_ALL=C"}, argv...)
	cmd := cg.command(ctx, "systemd-nspawn", args...)
	return cmd.CombinedOutput()
}

// RequireTools skips the test unless it runs as root, and fails it when
// debootstrap or systemd-nspawn is missing (`make deps` installs them,
// without their recommends: see the Makefile).
func RequireTools(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipping: booting a systemd-nspawn container needs root (run `sudo make test`)")
	}
	for _, t := range [][2]string{{"debootstrap", "debootstrap"}, {"systemd-nspawn", "systemd-container"}} {
		if _, err := exec.LookPath(t[0]); err != nil {
			tb.Fatalf("%s not found: install the Debian package %s without its recommends (make deps)", t[0], t[1])
		}
	}
}

// Mirror returns the Debian archive that apt uses on this machine: the
// first URI of a deb source (one-line or deb822) for the main archive,
// that is, not the security archive, or DefaultMirror.
func Mirror() string {
	files := []string{"/etc/apt/sources.list"}
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	for _, f := range files {
		if m := mirrorIn(f); m != "" {
			return m
		}
	}
	return DefaultMirror
}

// mirrorIn returns the first Debian main-archive URI in a sources file.
func mirrorIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var uris []string
		switch {
		case strings.HasPrefix(line, "deb "):
			fields := strings.Fields(line)[1:]
			for len(fields) > 0 && strings.HasPrefix(fields[0], "[") { // options
				for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
					fields = fields[1:]
				}
				fields = fields[1:]
			}
			if len(fields) > 0 {
				uris = fields[:1]
			}
		case strings.HasPrefix(line, "URIs:"):
			uris = strings.Fields(strings.TrimPrefix(line, "URIs:"))
		}
		for _, u := range uris {
			if debianArchive(u) {
				return strings.TrimRight(u, "/")
			}
		}
	}
	return ""
}

// debianArchive reports whether a URI looks like a mirror of Debian's
// main archive: its path ends in /debian.
func debianArchive(u string) bool {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return false
	}
	return strings.HasSuffix(strings.TrimRight(u, "/"), "/debian")
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
