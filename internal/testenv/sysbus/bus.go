package sysbus

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// startTimeout bounds each wait for a daemon to come up. It is generous
// because go test ./... runs several root test binaries at once, each
// starting its own bus and polkitd under the race detector.
const startTimeout = 30 * time.Second

// Bus is a running private system bus, with polkitd on it unless
// Options.NoPolkit was set.
type Bus struct {
	// Address is the bus's D-Bus address, always unix:path=…: an abstract
	// socket would not be reachable from the network namespaces that the
	// tests run the helper in.
	Address string
	// SocketPath is the bus socket's file, which anyone may connect to.
	SocketPath string

	dir    string  // public directory holding the socket and the config
	conf   string  // dbus-daemon's configuration file
	bus    *daemon // dbus-daemon
	polkit *daemon // polkitd, nil with NoPolkit
}

// Options tune Start.
type Options struct {
	// ServiceDir, if set, is a directory of D-Bus activation (.service)
	// files. The bus starts those services itself, as root: there is no
	// setuid launch helper on a private bus.
	ServiceDir string
	// NoPolkit skips starting polkitd, for tests of the bus policy alone.
	NoPolkit bool
	// ExtraRules are more polkit rules files (file name → JavaScript)
	// loaded next to ours, for the demo's "this desktop user may" rule.
	// Only the base of each name is used.
	ExtraRules map[string]string
	// ExtraPolicies are more D-Bus policy files the bus loads, for
	// services other than ours that a test runs on it.
	ExtraPolicies []string
	// Installed loads the D-Bus policy, the polkit actions and the polkit
	// rules from where the package installs them (InstalledPolicy,
	// InstalledActions, InstalledRules) instead of from the repository's
	// packaging directory, so that a test of the installed package proves
	// that the installed files work.
	Installed bool
}

// Where the .deb and .rpm install the files that Start loads.
const (
	InstalledPolicy  = "/usr/share/dbus-1/system.d/org.wgtray.Helper1.conf"
	InstalledActions = "/usr/share/polkit-1/actions/org.wgtray.policy"
	InstalledRules   = "/usr/share/polkit-1/rules.d/50-org.wgtray.rules"
)

// files returns the D-Bus policy, polkit action and polkit rules files
// that Start loads: the repository's (below root) or the installed ones.
func (o Options) files(root string) (policy, actions, rules string) {
	if o.Installed {
		return InstalledPolicy, InstalledActions, InstalledRules
	}
	return filepath.Join(root, "packaging/dbus/org.wgtray.Helper1.conf"),
		filepath.Join(root, "packaging/polkit/org.wgtray.policy"),
		filepath.Join(root, "packaging/polkit/50-org.wgtray.rules")
}

// Start launches a private system bus that loads the project's D-Bus
// policy, and polkitd on it with the project's polkit actions and rules,
// and waits until polkitd owns org.freedesktop.PolicyKit1. Both are
// stopped, and their files removed, when the test ends. It skips the test
// unless it runs as root.
func Start(tb testing.TB, o Options) *Bus {
	tb.Helper()
	requireRoot(tb)
	for _, tool := range []string{"dbus-daemon", "unshare", "mount", polkitdPath} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s not found: install the Debian packages dbus, polkitd and util-linux (make deps)", tool)
		}
	}
	// dbus-daemon drops, with a mere warning, a policy rule that names a
	// group missing when it loads, and polkit's isInGroup needs the group:
	// create it before the bus starts.
	EnsureGroup(tb, "wgtray")
	policy, actions, rules := o.files(repo.Root(tb))
	b := &Bus{dir: PublicDir(tb)}
	b.SocketPath = filepath.Join(b.dir, "system_bus_socket")
	b.Address = "unix:path=" + b.SocketPath
	conf := filepath.Join(b.dir, "system.conf")
	text := busConfig(b.Address, o.ServiceDir, policy, o.ExtraPolicies...)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	b.conf = conf
	b.startBus(tb, conf)
	if !o.NoPolkit {
		b.startPolkit(tb, actions, rules, o.ExtraRules)
	}
	return b
}

// startBus runs dbus-daemon on conf and waits until it listens, which it
// tells by printing its address on a pipe.
func (b *Bus) startBus(tb testing.TB, conf string) {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--nosyslog", "--print-address=3")
	cmd.ExtraFiles = []*os.File{w}
	b.bus = startDaemon(tb, "dbus-daemon", cmd)
	w.Close() // the child has its copy; EOF tells that it exited
	if err := r.SetReadDeadline(time.Now().Add(startTimeout)); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, b.Address+",") {
		if err == io.EOF {
			// It exited: let its stderr, which tells why, be copied.
			<-b.bus.done
		}
		tb.Fatalf("dbus-daemon did not come up (read %q, %v): %v", line, err, b.bus)
	}
}

// Restart kills dbus-daemon and starts it again with the same
// configuration, so on the same socket, as a restart of the system's D-Bus
// does: every connection to the bus closes. polkitd, which exits with its
// bus, is not started again.
func (b *Bus) Restart(tb testing.TB) {
	tb.Helper()
	b.bus.stop()
	b.startBus(tb, b.conf)
}

// Env returns the environment entry that points a child process at this
// bus, as "DBUS_SYSTEM_BUS_ADDRESS=unix:path=…".
func (b *Bus) Env() string { return "DBUS_SYSTEM_BUS_ADDRESS=" + b.Address }

// Conn opens a connection to the bus as the test process (root), closed
// when the test ends.
func (b *Bus) Conn(tb testing.TB) *dbus.Conn {
	tb.Helper()
	c, err := dbus.Connect(b.Address)
	if err != nil {
		tb.Fatalf("connect to the test bus: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Logs returns what dbus-daemon and polkitd wrote to stderr so far, for
// failure messages (polkitd tells there why it refused or which rule
// failed to load).
func (b *Bus) Logs() string {
	s := b.bus.String()
	if b.polkit != nil {
		s += "\n" + b.polkit.String()
	}
	return s
}
