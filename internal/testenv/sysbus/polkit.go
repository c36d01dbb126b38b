package sysbus

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	// polkitdPath is where Debian's polkitd package installs the daemon.
	polkitdPath = "/usr/lib/polkit-1/polkitd"
	// polkitName is the bus name polkitd owns.
	polkitName = "org.freedesktop.PolicyKit1"
)

// The directories that polkitd reads actions and rules from. They are
// compiled into it: it has no option to read others.
const (
	actionsDir  = "/usr/share/polkit-1/actions"
	etcRulesDir = "/etc/polkit-1/rules.d"
	usrRulesDir = "/usr/share/polkit-1/rules.d"
)

// polkitScript runs inside polkitd's private mount namespace: it bind-mounts
// $1, $2 and $3 over the action and rules directories, then becomes
// polkitd, which drops to user polkitd by itself.
const polkitScript = `set -e
mount --bind "$1" ` + actionsDir + `
mount --bind "$2" ` + etcRulesDir + `
mount --bind "$3" ` + usrRulesDir + `
exec ` + polkitdPath

// startPolkit runs polkitd on the bus with exactly the project's action and
// rules files (actionsFile, rulesFile), and the extra rules, and waits
// until it owns its name.
//
// polkitd runs in a mount namespace of its own (unshare --mount) whose
// mounts do not propagate back (--propagation private): there, bind
// mounts put directories holding only our files over the fixed paths;
// the host's directories are never written to or mounted over. polkitd
// finds the bus through DBUS_SYSTEM_BUS_ADDRESS, which GLib honours for
// the system bus; the owner check below proves it is on this bus.
func (b *Bus) startPolkit(tb testing.TB, actionsFile, rulesFile string, extra map[string]string) {
	tb.Helper()
	actions := filepath.Join(b.dir, "actions")
	rules := filepath.Join(b.dir, "rules.d")
	// An empty directory hides the host's default rules (admin identities),
	// so that only our rule can say yes.
	noRules := filepath.Join(b.dir, "no-rules.d")
	for _, d := range []string{actions, rules, noRules} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	copyFile(tb, actionsFile, filepath.Join(actions, "org.wgtray.policy"))
	copyFile(tb, rulesFile, filepath.Join(rules, "50-org.wgtray.rules"))
	for name, js := range extra {
		if err := os.WriteFile(filepath.Join(rules, filepath.Base(name)), []byte(js), 0o644); err != nil {
			tb.Fatal(err)
		}
	}

	// Watch for the name before polkitd starts so that its arrival cannot
	// be missed.
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		tb.Fatalf("connect to the test bus: %v", err)
	}
	defer conn.Close()
	owners := make(chan *dbus.Signal, 8)
	conn.Signal(owners)
	if err := conn.AddMatchSignal(
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, polkitName),
	); err != nil {
		tb.Fatal(err)
	}

	cmd := exec.Command("unshare", "--mount", "--propagation", "private",
		"sh", "-c", polkitScript, "sh", actions, rules, noRules)
	cmd.Env = append(os.Environ(), b.Env())
	b.polkit = startDaemon(tb, "polkitd", cmd)

	owner := waitOwner(tb, owners, b.polkit.done, func() string { return b.Logs() })
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid); err != nil {
		tb.Fatalf("pid of %s's owner: %v", polkitName, err)
	}
	if int(pid) != b.polkit.pid() {
		tb.Fatalf("%s is owned by pid %d, not by our polkitd (pid %d)", polkitName, pid, b.polkit.pid())
	}
}

// waitOwner returns the unique name that NameOwnerChanged on owners gives
// as the new owner. It fails the test if exited is closed first or after
// startTimeout, with logs() in the message.
func waitOwner(tb testing.TB, owners <-chan *dbus.Signal, exited <-chan struct{}, logs func() string) string {
	tb.Helper()
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	for {
		select {
		case sig := <-owners:
			if len(sig.Body) == 3 {
				if owner, _ := sig.Body[2].(string); owner != "" {
					return owner
				}
			}
		case <-exited:
			tb.Fatalf("polkitd exited before owning %s:\n%s", polkitName, logs())
		case <-timeout.C:
			tb.Fatalf("polkitd did not own %s within %v:\n%s", polkitName, startTimeout, logs())
		}
	}
}
