package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// TestRPMRootInstall installs the RPM into a temporary root, which has no
// base system (hence --nodeps --noscripts), and checks every file, its
// mode and owner, that nothing else was installed, and the scriptlets.
func TestRPMRootInstall(t *testing.T) {
	netns.RequireRootFor(t, "this test installs the RPM into a temporary root as root's files")
	needTool(t, "rpm", "rpm")
	_, pkg := packages(t)
	root := t.TempDir()
	// Debian's rpm keeps its database in ~/.rpmdb unless told otherwise.
	const dbpath = "/var/lib/rpm"
	run(t, "rpm", "--root", root, "--dbpath", dbpath, "--initdb")
	run(t, "rpm", "--root", root, "--dbpath", dbpath, "-i", "--nodeps", "--noscripts", pkg)
	want := append(slices.Clone(common), rpmOnly...)
	checkEntries(t, root, want)

	// Nothing but these files, their parent directories and the database.
	parents := map[string]bool{}
	for _, e := range want {
		for d := filepath.Dir(e.path); d != "/"; d = filepath.Dir(d) {
			parents[d] = true
		}
	}
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(path, root), "/")
		switch {
		case rel == "/" || parents[rel]:
		case strings.HasPrefix(rel, dbpath) || strings.HasPrefix(dbpath, rel):
		case slices.ContainsFunc(want, func(e entry) bool { return e.path == rel }):
		default:
			t.Errorf("unexpected %s in the RPM's root", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The package's own list, with modes and owners.
	var wantList []string
	for _, e := range want {
		wantList = append(wantList, e.path+" "+e.mode+" root root")
	}
	sort.Strings(wantList)
	got := scanLines(run(t, "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME}\n]`, pkg))
	sort.Strings(got)
	if !slices.Equal(got, wantList) {
		t.Errorf("rpm -qpl:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantList, "\n"))
	}
	var reqs []string
	for _, r := range scanLines(run(t, "rpm", "-qp", "--requires", pkg)) {
		if !strings.HasPrefix(r, "rpmlib(") && !strings.HasPrefix(r, "/bin/sh") {
			reqs = append(reqs, r)
		}
	}
	if want := []string{"dbus", "glibc", "polkit", "shadow-utils"}; !slices.Equal(sorted(reqs), want) {
		t.Errorf("Requires %v, want %v", reqs, want)
	}
	if out := run(t, "rpm", "-qp", "--qf", "%{LICENSE}|%{GROUP}|%{URL}", pkg); out != "MIT|Applications/Internet|https://github.com/wgtray/wgtray" {
		t.Errorf("License|Group|URL: %s", out)
	}

	// The scriptlets: each script file, whole, in its slot, run by /bin/sh.
	scripts := run(t, "rpm", "-qp", "--scripts", pkg)
	repo := repo.Root(t)
	for _, s := range []struct{ slot, file string }{
		{"postinstall scriptlet (using /bin/sh):", "packaging/scripts/rpm/post.sh"},
		{"preuninstall scriptlet (using /bin/sh):", "packaging/scripts/rpm/preun.sh"},
		{"postuninstall scriptlet (using /bin/sh):", "packaging/scripts/rpm/postun.sh"},
	} {
		b, err := os.ReadFile(filepath.Join(repo, s.file))
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(scripts, s.slot+"\n")
		if !ok || !strings.HasPrefix(after, strings.TrimRight(string(b), "\n")) {
			t.Errorf("rpm --scripts: no %q holding %s:\n%s", s.slot, s.file, scripts)
		}
	}
	if strings.Contains(scripts, "pretrans") || strings.Contains(scripts, "preinstall scriptlet") {
		t.Errorf("unexpected scriptlets:\n%s", scripts)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestDebScriptsInPackage: the .deb's maintainer scripts are the files in
// packaging/scripts/deb, executable.
func TestDebScriptsInPackage(t *testing.T) {
	needTool(t, "dpkg-deb", "dpkg")
	deb, _ := packages(t)
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	repo := repo.Root(t)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		got, err := os.ReadFile(filepath.Join(dir, s))
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		want, err := os.ReadFile(filepath.Join(repo, "packaging/scripts/deb", s))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the .deb's %s is not packaging/scripts/deb/%s", s, s)
		}
		if fi, _ := os.Stat(filepath.Join(dir, s)); fi == nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", s, fi)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "preinst")); err == nil {
		t.Error("the .deb has a preinst")
	}
}

// scriptsView is run by `unshare --mount` for each step of
// TestMaintainerScripts: /etc and /var/lib become overlays whose changes
// land in the test's directories ($1, $2: upper and work of /etc; $3, $4:
// of /var/lib), and /run an empty tmpfs, so that the scripts see neither
// systemd nor a system bus, as in a container. The machine's files are
// never written.
const scriptsView = `set -e
mount -t overlay wgtray-etc -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc
mount -t overlay wgtray-varlib -o "lowerdir=/var/lib,upperdir=$3,workdir=$4" /var/lib
mount -t tmpfs wgtray-run /run
shift 4
exec /bin/sh -c "$@"`

// view runs shell commands in a private view of /etc, /var/lib and /run
// that persists across calls through its upper directories.
type view struct{ dirs []string }

func newView(t *testing.T) *view {
	t.Helper()
	base := t.TempDir()
	v := &view{}
	for _, d := range []string{"etc-upper", "etc-work", "varlib-upper", "varlib-work"} {
		p := filepath.Join(base, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		v.dirs = append(v.dirs, p)
	}
	return v
}

// sh runs script in the view and returns its output; it fails the test
// if the script fails.
func (v *view) sh(t *testing.T, script string) string {
	t.Helper()
	// A PID namespace of its own, with its /proc: the prerm and %preun
	// stop helpers by executable path, and must find none of the machine's.
	args := append([]string{"--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "--", "/bin/sh", "-c", scriptsView, "sh"}, v.dirs...)
	cmd := exec.Command("unshare", append(args, script)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in the private view: %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// TestMaintainerScripts runs the .deb's and the RPM's scripts in a private
// view of /etc and /var/lib, without systemd or a bus: they must succeed
// there, create the group wgtray when it is missing, delete it on purge
// (erase) only if they created it, and leave a group they found alone.
func TestMaintainerScripts(t *testing.T) {
	netns.RequireRootFor(t, "this test runs the maintainer scripts in a private mount namespace")
	needTool(t, "unshare", "util-linux")
	needTool(t, "groupadd", "passwd")
	repo := repo.Root(t)
	type flavour struct {
		name                      string
		install, remove, purge    string // command lines
		upgradeRemove, reinstall  string
		preremove, preremoveUpgrd string
	}
	deb := filepath.Join(repo, "packaging/scripts/deb")
	rpm := filepath.Join(repo, "packaging/scripts/rpm")
	for _, f := range []flavour{
		{
			name:      "deb",
			install:   "sh " + deb + "/postinst configure",
			preremove: "sh " + deb + "/prerm remove",
			remove:    "sh " + deb + "/postrm remove",
			purge:     "sh " + deb + "/postrm purge",
			// An upgrade: prerm upgrade, postrm upgrade, postinst configure OLD.
			preremoveUpgrd: "sh " + deb + "/prerm upgrade 1.0",
			upgradeRemove:  "sh " + deb + "/postrm upgrade 1.0",
			reinstall:      "sh " + deb + "/postinst configure 1.0",
		},
		{
			name:           "rpm",
			install:        "sh " + rpm + "/post.sh 1",
			preremove:      "sh " + rpm + "/preun.sh 0",
			remove:         "true", // rpm has no remove-but-keep-config step
			purge:          "sh " + rpm + "/postun.sh 0",
			preremoveUpgrd: "sh " + rpm + "/preun.sh 1",
			upgradeRemove:  "sh " + rpm + "/postun.sh 1",
			reinstall:      "sh " + rpm + "/post.sh 2",
		},
	} {
		t.Run(f.name+" fresh machine", func(t *testing.T) {
			v := newView(t)
			// A machine without the group (in the view only).
			v.sh(t, "if getent group wgtray >/dev/null; then groupdel wgtray; fi")
			v.sh(t, f.install)
			if out := v.sh(t, "getent group wgtray; ls /var/lib/wgtray"); !strings.Contains(out, "wgtray:x:") || !strings.Contains(out, "group-created") {
				t.Fatalf("after install: %q", out)
			}
			gid := v.sh(t, "getent group wgtray | cut -d: -f3")
			if out := v.sh(t, "[ $(getent group wgtray | cut -d: -f3) -lt 1000 ] && echo system"); out != "system\n" {
				t.Errorf("group wgtray has gid %s, not a system group's", gid)
			}
			// An upgrade keeps the group.
			v.sh(t, f.preremoveUpgrd+" && "+f.upgradeRemove+" && "+f.reinstall)
			if got := v.sh(t, "getent group wgtray | cut -d: -f3"); got != gid {
				t.Errorf("after an upgrade the group's gid is %q, was %q", got, gid)
			}
			v.sh(t, f.preremove+" && "+f.remove)
			if out := v.sh(t, "getent group wgtray || echo gone"); f.name == "deb" && !strings.Contains(out, "wgtray:x:") {
				t.Errorf("remove (not purge) deleted the group: %q", out)
			}
			v.sh(t, f.purge)
			if out := v.sh(t, "getent group wgtray || echo gone; ls -d /var/lib/wgtray 2>&1 || true"); !strings.Contains(out, "gone") || !strings.Contains(out, "No such file") {
				t.Errorf("after purge: %q", out)
			}
		})
		t.Run(f.name+" group made by the administrator", func(t *testing.T) {
			v := newView(t)
			v.sh(t, "getent group wgtray >/dev/null || groupadd --system wgtray")
			v.sh(t, f.install)
			if out := v.sh(t, "ls /var/lib/wgtray 2>&1 || true"); !strings.Contains(out, "No such file") {
				t.Errorf("the scripts claimed a group they did not make: %q", out)
			}
			v.sh(t, f.preremove+" && "+f.remove+" && "+f.purge)
			if out := v.sh(t, "getent group wgtray || echo gone"); !strings.Contains(out, "wgtray:x:") {
				t.Errorf("purge deleted the administrator's group: %q", out)
			}
		})
	}
}
