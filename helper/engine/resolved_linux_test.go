package engine

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/testenv/debpkg"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// resolvedScript gives systemd-resolved a private /run (its state and
// stub resolv.conf live in /run/systemd/resolve) and runs it.
const resolvedScript = `set -e
mount -t tmpfs wgtray-run /run
mkdir -p /run/systemd/resolve
chown systemd-resolve:systemd-resolve /run/systemd/resolve
exec "$@"`

// startResolved runs Debian's systemd-resolved, unpacked but not
// installed, in the client namespace on the test's private system bus,
// and waits until it owns its name.
func startResolved(t *testing.T, ns string, bus *sysbus.Bus, root string) {
	t.Helper()
	conn := bus.Conn(t)
	owned := make(chan *dbus.Signal, 8)
	conn.Signal(owned)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, "org.freedesktop.resolve1")); err != nil {
		t.Fatal(err)
	}
	p := netns.StartProc(t, ns, []string{bus.Env(), "SYSTEMD_LOG_TARGET=console", "SYSTEMD_LOG_LEVEL=info"},
		"unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", resolvedScript, "sh",
		filepath.Join(root, "lib/systemd/systemd-resolved"))
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s := <-owned:
			if len(s.Body) == 3 && s.Body[2] != "" {
				return
			}
		case <-p.Exited():
			t.Fatalf("systemd-resolved exited: %s", p.Stderr())
		case <-deadline:
			t.Fatalf("systemd-resolved did not take its bus name: %s", p.Stderr())
		}
	}
}

// TestDNSResolved: with systemd-resolved running, a full tunnel's link
// gets the servers, the search domain, the routing domain "~." and the
// default route for DNS — so every query goes through the tunnel — and
// all of it is gone after down.
func TestDNSResolved(t *testing.T) {
	netns.RequireRoot(t)
	root := debpkg.Unpacked(t, "systemd-resolved")
	sysbus.EnsureSystemUser(t, "systemd-resolve")
	bus := sysbus.Start(t, sysbus.Options{NoPolkit: true, ExtraPolicies: []string{
		filepath.Join(root, "usr/share/dbus-1/system.d/org.freedesktop.resolve1.conf"),
	}})
	s := newDNSSetup(t, "203.0.113.1, corp.example")
	startResolved(t, s.tp.Client, bus, root)
	iface := strings.TrimSuffix(filepath.Base(s.conf), ".conf")
	resolvectl := func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", s.tp.Client, filepath.Join(root, "usr/bin/resolvectl"), "--no-pager"}, args...)...)
		cmd.Env = append(cmd.Environ(), bus.Env())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	tn := s.hold(t, t.TempDir(), []string{"WGTRAY_DNS=" + plan.DNSResolved, bus.Env()})
	for _, c := range []struct{ args, want []string }{
		{[]string{"dns", iface}, []string{"203.0.113.1"}},
		{[]string{"domain", iface}, []string{"~.", "corp.example"}},
		{[]string{"default-route", iface}, []string{"yes"}},
	} {
		out, err := resolvectl(c.args...)
		t.Logf("resolvectl %v: %s", c.args, strings.TrimSpace(out))
		for _, w := range c.want {
			if err != nil || !strings.Contains(out, w) {
				t.Errorf("resolvectl %v while up: %v: %q, want %q", c.args, err, out, w)
			}
		}
	}
	out, err := resolvectl("query", "--legend=no", testName)
	if err != nil || !strings.Contains(out, testNameAddr.String()) {
		t.Errorf("resolvectl query %s while up: %v: %s", testName, err, out)
	}
	s.srv.WaitQuery(t, testName, s.tp.ClientTunnel4)

	tn.down(t)
	for _, args := range [][]string{{"dns"}, {"domain"}} {
		out, err := resolvectl(args...)
		if err != nil || strings.Contains(out, "203.0.113.1") || strings.Contains(out, "corp.example") || strings.Contains(out, iface) {
			t.Errorf("resolvectl %v after down: %v: %s", args, err, out)
		}
	}
}
