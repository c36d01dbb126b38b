package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/repo"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// polkitDTD is the document type of polkit action files, shipped by
// Debian's polkitd. D-Bus's busconfig DTD is not shipped: dbus-daemon,
// which rejects unknown elements and attributes, checks our policy in the
// root tests instead.
const polkitDTD = "/usr/share/polkit-1/policyconfig-1.dtd"

// TestPackagingXML checks that the XML files are well-formed and that the
// polkit action file is valid against polkit's DTD. It needs no root.
func TestPackagingXML(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("skipping: xmllint not found (Debian package libxml2-utils)")
	}
	root := repo.Root(t)
	for _, f := range []string{"packaging/dbus/org.wgtray.Helper1.conf", "packaging/polkit/org.wgtray.policy"} {
		if out, err := exec.Command("xmllint", "--noout", "--nonet", filepath.Join(root, f)).CombinedOutput(); err != nil {
			t.Errorf("xmllint %s: %v\n%s", f, err, out)
		}
	}
	if _, err := os.Stat(polkitDTD); err != nil {
		t.Skipf("skipping the DTD check: %v (Debian package polkitd)", err)
	}
	f := filepath.Join(root, "packaging/polkit/org.wgtray.policy")
	if out, err := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", polkitDTD, f).CombinedOutput(); err != nil {
		t.Errorf("org.wgtray.policy is not valid against %s: %v\n%s", polkitDTD, err, out)
	}
}

// readServiceFile returns the keys of a D-Bus .service file's
// [D-BUS Service] group.
func readServiceFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]string{}
	group := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			group = line
		case group == "[D-BUS Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a key=value line: %q", path, line)
			}
			keys[k] = v
		default:
			t.Fatalf("%s: line outside [D-BUS Service]: %q", path, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestServiceFile checks the activation file's keys. It needs no root.
func TestServiceFile(t *testing.T) {
	got := readServiceFile(t, filepath.Join(repo.Root(t), "packaging/dbus/org.wgtray.Helper1.service"))
	want := map[string]string{
		"Name":           helperName,
		"Exec":           "/usr/libexec/wgtray/wgtray-helper",
		"User":           "root",
		"SystemdService": "wgtray-helper.service",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("keys %v, want exactly %v", got, want)
	}
}

// TestServiceActivation checks that dbus-daemon, as a system bus, accepts
// the activation file (a system bus wants the file named after the bus
// name and a User key) and tries to run it when asked.
func TestServiceActivation(t *testing.T) {
	netns.RequireRootFor(t, "this test runs a private system bus")
	b := sysbus.Start(t, sysbus.Options{ServiceDir: filepath.Join(repo.Root(t), "packaging/dbus"), NoPolkit: true})
	conn := b.Conn(t)
	var names []string
	if err := conn.BusObject().Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, helperName) {
		t.Fatalf("activatable names %v lack %s:\n%s", names, helperName, b.Logs())
	}
	// The attempt runs a copy whose Exec names a file that does not exist:
	// the real one may be installed (the packaging tests install it), and
	// this bus must never start a helper outside a test namespace.
	dir := t.TempDir()
	text, err := os.ReadFile(filepath.Join(repo.Root(t), "packaging/dbus", helperName+".service"))
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-helper")
	text = regexp.MustCompile(`(?m)^Exec=.*$`).ReplaceAll(text, []byte("Exec="+missing))
	if err := os.WriteFile(filepath.Join(dir, helperName+".service"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	b = sysbus.Start(t, sysbus.Options{ServiceDir: dir, NoPolkit: true})
	conn = b.Conn(t)
	// The bus tries to run it and finds no such file (it does not say
	// which).
	var reply uint32
	err = conn.BusObject().Call("org.freedesktop.DBus.StartServiceByName", 0, helperName, uint32(0)).Store(&reply)
	if got := sysbus.Result(err); got != "org.freedesktop.DBus.Error.Spawn.ExecFailed" || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("StartServiceByName(%s) = %v, %v; want Spawn.ExecFailed, no such file\n%s", helperName, reply, err, b.Logs())
	}
}
