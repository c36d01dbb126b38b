// Package testbus runs a real, private system bus for root integration
// tests and the demo: Debian's dbus-daemon with a system-bus config that
// loads the project's own D-Bus policy from packaging/, and Debian's
// polkitd on that bus with the project's polkit action and rules files.
//
// polkitd reads its actions and rules only from fixed paths, so it runs in
// a private mount namespace where those paths are bind mounts of
// directories holding exactly our files; the host's are never touched.
// Without logind no caller is ever in an active session, so allow_active
// never applies: the group rule decides.
//
// Debian packages needed: dbus, polkitd, util-linux (unshare, setpriv),
// passwd (useradd, groupadd).
package testbus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/wgtray/wgtray/helper/testnet"
)

// Bus is a running private system bus with polkitd.
type Bus struct {
	// Address is the bus's D-Bus address, unix:path=… so that it is
	// reachable from other network namespaces.
	Address    string
	SocketPath string
	dir        string
}

// Options tune Start.
type Options struct {
	// ServiceDir, if set, is a directory of D-Bus activation files.
	ServiceDir string
	// NoPolkit skips starting polkitd.
	NoPolkit bool
	// ExtraRules are more polkit rules files (name → JavaScript), for the
	// demo's "this user may" rule.
	ExtraRules map[string]string
}

// RepoRoot returns the repository's root directory, found by walking up
// from the working directory to go.mod.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// PublicDir makes a directory that unprivileged test users can enter,
// removed when the test ends. t.TempDir's are root-only.
func PublicDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "wgtray-test-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Start launches the bus and polkitd and stops both when the test ends.
func Start(tb testing.TB, o Options) *Bus {
	tb.Helper()
	testnet.RequireRoot(tb)
	EnsureGroup(tb, "wgtray") // a group named in a policy must exist before the bus loads it
	root := RepoRoot(tb)
	b := &Bus{dir: PublicDir(tb)}
	b.SocketPath = filepath.Join(b.dir, "system_bus_socket")
	b.Address = "unix:path=" + b.SocketPath
	conf := filepath.Join(b.dir, "system.conf")
	servicedir := ""
	if o.ServiceDir != "" {
		servicedir = "<servicedir>" + o.ServiceDir + "</servicedir>"
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, b.Address, servicedir,
		filepath.Join(root, "packaging/dbus/org.wgtray.Helper1.conf"))), 0o644); err != nil {
		tb.Fatal(err)
	}
	daemon := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--nosyslog")
	// dbus-daemon's stderr is left out: as a non-PID-1 system bus it
	// complains about fd limits on every start.
	if err := daemon.Start(); err != nil {
		tb.Fatalf("start dbus-daemon: %v", err)
	}
	tb.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	testnet.WaitFor(tb, 10*time.Second, "the bus socket", func() bool {
		c, err := dbus.Connect(b.Address)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if !o.NoPolkit {
		b.startPolkit(tb, root, o.ExtraRules)
	}
	return b
}

// startPolkit runs polkitd (which drops to user polkitd) in a private mount namespace
// whose action and rules directories hold only our files.
func (b *Bus) startPolkit(tb testing.TB, root string, extra map[string]string) {
	tb.Helper()
	actions := filepath.Join(b.dir, "actions")
	rules := filepath.Join(b.dir, "rules.d")
	empty := filepath.Join(b.dir, "empty")
	for _, d := range []string{actions, rules, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	copyFile(tb, filepath.Join(root, "packaging/polkit/org.wgtray.policy"), filepath.Join(actions, "org.wgtray.policy"))
	copyFile(tb, filepath.Join(root, "packaging/polkit/50-org.wgtray.rules"), filepath.Join(rules, "50-org.wgtray.rules"))
	for name, js := range extra {
		if err := os.WriteFile(filepath.Join(rules, filepath.Base(name)), []byte(js), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	script := strings.Join([]string{
		"set -e",
		"mount --bind " + actions + " /usr/share/polkit-1/actions",
		"mount --bind " + rules + " /etc/polkit-1/rules.d",
		"mount --bind " + empty + " /usr/share/polkit-1/rules.d",
		// polkitd switches to its own user by itself.
		"exec /usr/lib/polkit-1/polkitd --no-debug",
	}, "\n")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+b.Address)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start polkitd: %v", err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	testnet.WaitFor(tb, 15*time.Second, "polkitd to own org.freedesktop.PolicyKit1", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.PolicyKit1").Store(&has)
		return has
	})
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Env returns the environment entry that points clients at this bus.
func (b *Bus) Env() string { return "DBUS_SYSTEM_BUS_ADDRESS=" + b.Address }

// Conn opens a connection to the bus as the test process (root), closed
// when the test ends.
func (b *Bus) Conn(tb testing.TB) *dbus.Conn {
	tb.Helper()
	c, err := dbus.Connect(b.Address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// busConfig is a system bus: deny by default, EXTERNAL auth, our helper's
// policy and polkit's included. %s: address, servicedir, helper policy.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>%s</listen>
  <auth>EXTERNAL</auth>
  %s
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <include>/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
  <include>%s</include>
</busconfig>
`
