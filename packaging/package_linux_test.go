package packaging

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/internal/uapisock"
)

// entry is one installed file as the tests expect it: its type and
// permission bits (as fs.FileMode prints them) and owner. Everything the
// packages install is root's.
type entry struct {
	path string
	mode string // fs.FileMode.String(), e.g. "-rwxr-xr-x", "drwx------"
}

// common are the files and directories that both packages install.
var common = []entry{
	{"/usr/bin/wgtray", "-rwxr-xr-x"},
	{"/usr/libexec/wgtray", "drwxr-xr-x"},
	{"/usr/libexec/wgtray/wgtray-helper", "-rwxr-xr-x"},
	{"/usr/lib/systemd/system/wgtray-helper.service", "-rw-r--r--"},
	{"/usr/lib/systemd/system/wgtray-autoconnect.service", "-rw-r--r--"},
	{"/usr/lib/systemd/system/wgtray-lockdown.service", "-rw-r--r--"},
	{"/usr/lib/tmpfiles.d/wgtray.conf", "-rw-r--r--"},
	{"/usr/share/dbus-1/system-services/org.wgtray.Helper1.service", "-rw-r--r--"},
	{"/usr/share/dbus-1/system.d/org.wgtray.Helper1.conf", "-rw-r--r--"},
	{"/usr/share/polkit-1/actions/org.wgtray.policy", "-rw-r--r--"},
	{"/usr/share/polkit-1/rules.d/50-org.wgtray.rules", "-rw-r--r--"},
	{"/usr/share/applications/wgtray.desktop", "-rw-r--r--"},
	{"/etc/xdg/autostart/wgtray.desktop", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/scalable/apps/wgtray-connected.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/scalable/apps/wgtray-connecting.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/scalable/apps/wgtray-disconnected.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/scalable/apps/wgtray-problem.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/symbolic/apps/wgtray-connected-symbolic.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/symbolic/apps/wgtray-connecting-symbolic.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/symbolic/apps/wgtray-disconnected-symbolic.svg", "-rw-r--r--"},
	{"/usr/share/icons/hicolor/symbolic/apps/wgtray-problem-symbolic.svg", "-rw-r--r--"},
	{"/usr/share/man/man1/wgtray.1.gz", "-rw-r--r--"},
	{"/usr/share/man/man8/wgtray-helper.8.gz", "-rw-r--r--"},
	// Configs with private keys: root only, as wg-quick wants it.
	{"/etc/wireguard", "drwx------"},
}

// debOnly and rpmOnly are each package's own files.
var (
	debOnly = []entry{
		{"/usr/share/doc/wgtray", "drwxr-xr-x"},
		{"/usr/share/doc/wgtray/copyright", "-rw-r--r--"},
		{"/usr/share/doc/wgtray/changelog.Debian.gz", "-rw-r--r--"},
		{"/usr/share/lintian/overrides/wgtray", "-rw-r--r--"},
	}
	rpmOnly = []entry{
		{"/usr/share/licenses/wgtray/LICENSE", "-rw-r--r--"},
	}
)

// checkEntries checks each entry's type, mode and owner below root.
func checkEntries(t *testing.T, root string, want []entry) {
	t.Helper()
	for _, e := range want {
		fi, err := os.Lstat(filepath.Join(root, e.path))
		if err != nil {
			t.Errorf("%s: %v", e.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if got := fi.Mode().String(); got != e.mode || st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s: %s %d:%d, want %s 0:0", e.path, got, st.Uid, st.Gid, e.mode)
		}
	}
}

// regularFiles returns the paths of the entries that are not directories.
func regularFiles(es []entry) []string {
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.mode, "d") {
			out = append(out, e.path)
		}
	}
	sort.Strings(out)
	return out
}

// dpkgStatus returns dpkg's status of pkg ("installed", "config-files",
// …), or "" when dpkg does not know it.
func dpkgStatus(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", pkg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// run runs a command and fails the test, with its output, if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// snapshotRoots are the trees compared before install and after purge.
var snapshotRoots = []string{"/usr", "/etc", "/var/lib", "/opt", "/run/wgtray"}

// snapshotSkip are left out of the comparison: dpkg's and apt's own
// databases, which record the install and purge by design, and the
// account files, which test binaries running at the same time change
// when they add and delete throwaway users (the group wgtray is checked
// on its own).
func snapshotSkip(path string) bool {
	for _, p := range []string{"/var/lib/dpkg", "/var/lib/apt", "/var/lib/systemd/deb-systemd-"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	switch strings.TrimRight(path, "-+") {
	case "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid",
		"/etc/.pwd.lock", "/etc/passwd.lock", "/etc/group.lock", "/etc/shadow.lock", "/etc/gshadow.lock":
		return true
	}
	return false
}

// snapshot lists every file and directory under snapshotRoots with its
// type, permissions, owner and, for symlinks, target. Sizes and times are
// left out: triggers (man-db, the icon cache) rewrite their caches in
// place, which leaves no file of ours behind.
func snapshot(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, root := range snapshotRoots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // gone meanwhile, or a root that does not exist
				}
				return err
			}
			if snapshotSkip(path) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			desc := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
			if fi.Mode()&fs.ModeSymlink != 0 {
				target, _ := os.Readlink(path)
				desc += " -> " + target
			}
			m[path] = desc
			return nil
		})
		if err != nil {
			t.Fatalf("list %s: %v", root, err)
		}
	}
	return m
}

// snapshotDiff describes how b differs from a.
func snapshotDiff(a, b map[string]string) []string {
	var out []string
	for p, d := range a {
		if bd, ok := b[p]; !ok {
			out = append(out, "removed: "+p+" "+d)
		} else if bd != d {
			out = append(out, "changed: "+p+" "+d+" => "+bd)
		}
	}
	for p, d := range b {
		if _, ok := a[p]; !ok {
			out = append(out, "added:   "+p+" "+d)
		}
	}
	sort.Strings(out)
	return out
}

// TestDebInstall installs the .deb on this machine, checks every file,
// starts the installed helper through D-Bus activation and connects a
// tunnel through it in a network namespace, then purges the package and
// checks that the machine is as before, a config in /etc/wireguard
// included.
func TestDebInstall(t *testing.T) {
	netns.RequireRootFor(t, "this test installs the .deb on this machine")
	needTool(t, "dpkg", "dpkg")
	deb, _ := packages(t)
	if st := dpkgStatus("wgtray"); st != "" && st != "not-installed" {
		t.Skipf("skipping: wgtray is already known to dpkg on this machine (status %q); not touching it (if a killed test run left it: dpkg --purge wgtray)", st)
	}
	if _, err := os.Stat("/usr/libexec/wgtray"); err == nil {
		t.Skip("skipping: /usr/libexec/wgtray exists without the package (installed by hand?); not touching it")
	}
	// The package creates the group wgtray only when it is missing, and
	// purge deletes it only if the package made it. Other test binaries
	// of `go test ./...` run at the same time on this machine and rely on
	// the group (sysbus makes it and leaves it): make sure it exists
	// first, so that purging cannot delete it under them. The scripts'
	// own creating and deleting is tested in a private /etc by
	// TestMaintainerScripts.
	sysbus.EnsureGroup(t, "wgtray")

	// A config of the user's, which neither install nor purge may touch.
	confDir := "/etc/wireguard"
	if fi, err := os.Stat(confDir); os.IsNotExist(err) {
		if err := os.Mkdir(confDir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(confDir) })
	} else if err != nil {
		t.Fatal(err)
	} else {
		// Adding and removing the config changes the directory's times:
		// put them back.
		st := fi.Sys().(*syscall.Stat_t)
		atime := time.Unix(st.Atim.Unix())
		t.Cleanup(func() {
			if err := os.Chtimes(confDir, atime, fi.ModTime()); err != nil {
				t.Errorf("restore the times of %s: %v", confDir, err)
			}
		})
	}
	userConf := filepath.Join(confDir, fmt.Sprintf("wgtray-test-%d-%s.conf", os.Getpid(), netns.UniqueName("")[:6]))
	confText := "[Interface]\n# wgtray's package test: must survive dpkg --purge\n"
	if err := os.WriteFile(userConf, []byte(confText), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(userConf) })

	before := snapshot(t)
	t.Logf("%d files and directories under %v before install", len(before), snapshotRoots)
	run(t, "dpkg", "-i", deb)
	// Whatever happens next, the machine gets its state back.
	t.Cleanup(func() {
		if st := dpkgStatus("wgtray"); st != "" && st != "not-installed" {
			if out, err := exec.Command("dpkg", "--purge", "wgtray").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg --purge wgtray: %v\n%s", err, out)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		want := append(slices.Clone(common), debOnly...)
		checkEntries(t, "/", want)
		// dpkg's list has exactly these files (directories aside).
		var listed []string
		for _, p := range scanLines(run(t, "dpkg-query", "-L", "wgtray")) {
			if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
				listed = append(listed, p)
			}
		}
		sort.Strings(listed)
		if w := regularFiles(want); !slices.Equal(listed, w) {
			t.Errorf("dpkg -L wgtray lists files\n%s\nwant\n%s", strings.Join(listed, "\n"), strings.Join(w, "\n"))
		}
		conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "wgtray")
		if !strings.Contains(conffiles, "/etc/xdg/autostart/wgtray.desktop ") {
			t.Errorf("the autostart entry is not a conffile: %q", conffiles)
		}
		deps := run(t, "dpkg-query", "-W", "-f=${Depends}", "wgtray")
		if deps != "libc6, dbus, polkitd, passwd" {
			t.Errorf("Depends: %s", deps)
		}
		if sug := run(t, "dpkg-query", "-W", "-f=${Suggests}", "wgtray"); sug != "gnome-shell-extension-appindicator, xapp-sn-watcher" {
			t.Errorf("Suggests: %s", sug)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		needTool(t, "systemd-analyze", "systemd")
		// The installed units, with their binary and man page in place.
		out, err := exec.Command("systemd-analyze", "verify", "/usr/lib/systemd/system/wgtray-helper.service",
			"/usr/lib/systemd/system/wgtray-autoconnect.service").CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("activation and tunnel", func(t *testing.T) { activationAndPurge(t) })

	// Purge, if the subtest did not get that far.
	if st := dpkgStatus("wgtray"); st != "" && st != "not-installed" {
		run(t, "dpkg", "--purge", "wgtray")
	}
	after := snapshot(t)
	if d := snapshotDiff(before, after); len(d) > 0 {
		t.Errorf("the file system differs after dpkg --purge:\n%s", strings.Join(d, "\n"))
	}
	if b, err := os.ReadFile(userConf); err != nil || string(b) != confText {
		t.Errorf("%s after purge: %q, %v", userConf, b, err)
	}
	if fi, err := os.Stat(userConf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s after purge: %v, %v; want mode 0600", userConf, fi, err)
	}
	if _, err := os.Stat("/var/lib/wgtray"); !os.IsNotExist(err) {
		t.Errorf("/var/lib/wgtray after purge: %v", err)
	}
	// The group existed before (see above), so it is not the package's.
	if out, err := exec.Command("getent", "group", "wgtray").Output(); err != nil {
		t.Errorf("purge deleted the group wgtray that it had not created: %v %s", err, out)
	}
}

// activationAndPurge starts the installed helper by D-Bus activation on a
// private system bus that loads the installed policy, polkit action and
// rules, connects a tunnel with the installed wgtray as a member of group
// wgtray, and finally purges the package with a tunnel up: prerm must
// stop the helper, which takes the tunnel down.
func activationAndPurge(t *testing.T) {
	const installedService = "/usr/share/dbus-1/system-services/org.wgtray.Helper1.service"
	const helperBin = "/usr/libexec/wgtray/wgtray-helper"
	keys := readServiceFile(t, installedService)
	if keys["Exec"] != helperBin || keys["Name"] != "org.wgtray.Helper1" || keys["User"] != "root" || keys["SystemdService"] != "wgtray-helper.service" {
		t.Fatalf("installed activation file: %v", keys)
	}
	tp := netns.New(t)
	configDir := filepath.Join(t.TempDir(), "wireguard")
	if err := os.Mkdir(configDir, 0o700); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	serviceDir := t.TempDir()
	bus := sysbus.Start(t, sysbus.Options{ServiceDir: serviceDir, Installed: true})

	// The installed activation file, with only its Exec line changed: the
	// private bus must start the installed helper inside the client
	// namespace (ip netns exec), on this bus, with its configs and
	// journals in the test's directories, and with wireguard-go (the
	// kernel module may be missing). The binary, the bus policy and the
	// polkit files are the installed ones. The bus reads the directory
	// again on ReloadConfig, once the file is there.
	//
	// setpriv confines the helper the way the unit's
	// CapabilityBoundingSet=CAP_NET_ADMIN and NoNewPrivileges=yes do
	// (this machine has no systemd to run the unit): connecting and
	// disconnecting below prove that it needs no other capability.
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	setprivPath, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal(err)
	}
	execLine := fmt.Sprintf("/usr/bin/env %s %s netns exec %s %s --bounding-set=-all,+net_admin --inh-caps=-all --no-new-privs %s --config-dir %s --journal-dir %s --wireguard=userspace",
		bus.Env(), ipPath, tp.Client, setprivPath, helperBin, configDir, stateDir)
	text := fmt.Sprintf("# %s, its Exec run in a test namespace\n[D-BUS Service]\nName=%s\nExec=%s\nUser=%s\nSystemdService=%s\n",
		installedService, keys["Name"], execLine, keys["User"], keys["SystemdService"])
	if err := os.WriteFile(filepath.Join(serviceDir, "org.wgtray.Helper1.service"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// "wgk": tunnels of packaging's tests; the topology's peer is "wgp…".
	name := netns.UniqueName("wgk")
	// Registered after the bus started, so run before it stops: a helper
	// that outlives the test (purge failed to stop it) would keep the
	// bus's stderr pipe open, and stopping the bus would wait for it.
	t.Cleanup(func() { stopHelpers(t, stateDir, name) })
	conn := bus.Conn(t)
	if err := conn.BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err; err != nil {
		t.Fatalf("ReloadConfig: %v", err)
	}

	member := sysbus.NewUser(t, "wgtray")
	cli := func(args ...string) string {
		t.Helper()
		cmd := member.Command(append([]string{"/usr/bin/wgtray"}, args...)...)
		cmd.Env = append(os.Environ(), bus.Env())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wgtray %s: %v\n%s\nbus and helper:\n%s", strings.Join(args, " "), err, out, bus.Logs())
		}
		return string(out)
	}
	hasOwner := func() bool { return sysbus.HasOwner(t, conn, "org.wgtray.Helper1") }
	if hasOwner() {
		t.Fatal("org.wgtray.Helper1 has an owner before anything called it")
	}

	conf := netns.WriteConf(t, sysbus.PublicDir(t), "demo", tp.ClientConfig(netns.ClientOpts{}))
	// The user reads the file, not the helper.
	if err := os.Chmod(conf, 0o644); err != nil {
		t.Fatal(err)
	}
	port := tp.InetAddr4.String() + ":7002"
	netns.EchoSource(t, tp.Inet, port)
	clean := netns.Dump(t, tp.Client)

	// The first call activates the helper.
	cli("import", conf, "--name", name)
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, "org.wgtray.Helper1").Store(&pid); err != nil {
		t.Fatalf("the helper was not activated: %v\n%s", err, bus.Logs())
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != helperBin {
		t.Fatalf("org.wgtray.Helper1 is pid %d running %q (%v), want %s", pid, exe, err, helperBin)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	// CAP_NET_ADMIN is capability 12.
	for _, want := range []string{"CapBnd:\t0000000000001000\n", "CapEff:\t0000000000001000\n", "NoNewPrivs:\t1\n"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("the helper's /proc/%d/status lacks %q:\n%s", pid, want, status)
		}
	}
	if out := cli("list"); !strings.Contains(out, name) {
		t.Errorf("list: %s", out)
	}
	cli("connect", name)
	if src := netns.SourceSeenBy(t, tp.Client, port); src != tp.ClientTunnel4 {
		t.Errorf("traffic reached the internet host from %v, want the tunnel's %v", src, tp.ClientTunnel4)
	}
	if rx, _ := tp.PeerTransfer(t); rx == 0 {
		t.Error("the peer received nothing through the tunnel")
	}
	cli("disconnect", name)
	if now := netns.Dump(t, tp.Client); now != clean {
		t.Errorf("disconnect did not restore the namespace:\n%s", netns.DumpDiff(clean, now))
	}

	// Purge with the tunnel up: prerm stops the helper (here with
	// start-stop-daemon, as there is no systemd), which takes it down.
	// Its kill switch would keep its block on that path, and prerm's
	// `wgtray-helper --remove-block` runs in the machine's namespace, not
	// in the test's one where this helper runs: off here, and the
	// removal of a block in place is helper's TestRemoveBlock.
	cli("set", name, "kill-switch", "off")
	cli("connect", name)
	if now := netns.Dump(t, tp.Client); now == clean {
		t.Fatal("connect changed nothing in the namespace")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "dpkg", "--purge", "wgtray").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg --purge wgtray: %v\n%s", err, out)
	}
	t.Logf("dpkg --purge wgtray:\n%s", out)
	// prerm waited for the helper to exit; the bus has seen it go.
	if err := syscall.Kill(int(pid), 0); err != syscall.ESRCH {
		t.Errorf("the helper (pid %d) still runs after purge: %v", pid, err)
	}
	netns.WaitFor(t, 10*time.Second, "the bus to drop the helper's name", func() bool { return !hasOwner() })
	if now := netns.Dump(t, tp.Client); now != clean {
		t.Errorf("purge with a tunnel up did not restore the namespace:\n%s", netns.DumpDiff(clean, now))
	}
	if ents, _ := os.ReadDir(stateDir); len(ents) != 0 {
		t.Errorf("journals left in the state directory: %v", ents)
	}
}

// helperPids returns the installed helpers running with state directory
// stateDir, that is, the ones this test's bus activated.
func helperPids(stateDir string) []int {
	const helperBin = "/usr/libexec/wgtray/wgtray-helper"
	return netns.ProcsWhere(func(pid int) bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		// A purged binary reads as "… (deleted)".
		return strings.HasPrefix(exe, helperBin) && slices.Contains(strings.Split(string(cmdline), "\x00"), stateDir)
	})
}

// stopHelpers stops the helpers that this test's bus activated, if any
// are left: SIGTERM, which takes their tunnels down, then SIGKILL after
// a while. A killed helper's wireguard-go leaves its UAPI socket for
// tunnel iface in /run/wireguard, which is removed.
func stopHelpers(t *testing.T, stateDir, iface string) {
	pids := helperPids(stateDir)
	if len(pids) == 0 {
		return
	}
	t.Errorf("helper %v still running at the end of the test: stopping it", pids)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	// No event to wait on: the helpers are the bus's children, not ours.
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(helperPids(stateDir)) > 0 && time.Now().Before(deadline) {
		<-tick.C
	}
	for _, pid := range helperPids(stateDir) {
		syscall.Kill(pid, syscall.SIGKILL)
		if err := os.Remove(uapisock.Path(iface)); err == nil {
			t.Logf("removed %s left by the killed helper", uapisock.Path(iface))
		}
	}
}
