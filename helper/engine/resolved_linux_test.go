package engine

import (
	"context"
	"errors"
	"io"
	"log"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/dns"
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
// and waits until it owns its name. The process is resolved itself.
func startResolved(t *testing.T, ns string, bus *sysbus.Bus, root string) *netns.Proc {
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
				return p
			}
		case <-p.Exited():
			t.Fatalf("systemd-resolved exited: %s", p.Stderr())
		case <-deadline:
			t.Fatalf("systemd-resolved did not take its bus name: %s", p.Stderr())
		}
	}
}

// resolvedSetup is a dnsSetup with Debian's systemd-resolved, unpacked,
// running in the client namespace on a private system bus.
type resolvedSetup struct {
	*dnsSetup
	bus  *sysbus.Bus
	root string
	proc *netns.Proc
}

func newResolvedSetup(t *testing.T, dnsLine string) *resolvedSetup {
	t.Helper()
	netns.RequireRoot(t)
	r := &resolvedSetup{root: debpkg.Unpacked(t, "systemd-resolved")}
	sysbus.EnsureSystemUser(t, "systemd-resolve")
	r.bus = sysbus.Start(t, sysbus.Options{NoPolkit: true, ExtraPolicies: []string{
		filepath.Join(r.root, "usr/share/dbus-1/system.d/org.freedesktop.resolve1.conf"),
	}})
	r.dnsSetup = newDNSSetup(t, dnsLine)
	r.proc = startResolved(t, r.tp.Client, r.bus, r.root)
	return r
}

// resolvectl runs resolvectl in the client namespace, on the test's bus.
func (r *resolvedSetup) resolvectl(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", r.tp.Client, filepath.Join(r.root, "usr/bin/resolvectl"), "--no-pager"}, args...)...)
	cmd.Env = append(cmd.Environ(), r.bus.Env())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDNSResolved: with systemd-resolved running, a full tunnel's link
// gets the servers, the search domain, the routing domain "~." and the
// default route for DNS — so every query goes through the tunnel — and
// all of it is gone after down.
func TestDNSResolved(t *testing.T) {
	r := newResolvedSetup(t, "203.0.113.1, corp.example")
	s, bus, resolvectl := r.dnsSetup, r.bus, r.resolvectl
	iface := strings.TrimSuffix(filepath.Base(s.conf), ".conf")

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

// TestDNSResolvedEveryOrder: systemd-resolved keeps each tunnel's
// servers and domains on its own link, so two split tunnels up at once
// each have theirs, and going down in either order leaves resolved's
// view (global and every link) as it was before: no owner is needed.
func TestDNSResolvedEveryOrder(t *testing.T) {
	r := newResolvedSetup(t, "203.0.113.1")
	tunnels := r.splitTunnels(t, 2)
	view := func() string {
		var b strings.Builder
		for _, what := range []string{"dns", "domain", "default-route"} {
			out, err := r.resolvectl(what)
			if err != nil {
				t.Fatalf("resolvectl %s: %v: %s", what, err, out)
			}
			b.WriteString(out)
		}
		return b.String()
	}
	before := view()
	for _, down := range [][]int{{0, 1}, {1, 0}} {
		sc := startScript(t, r.tp.Client, childArgv(t),
			childEnv("script", "", t.TempDir(), "userspace", "WGTRAY_DNS="+plan.DNSResolved, r.bus.Env()))
		for _, tn := range tunnels {
			sc.must(t, "up "+tn.conf)
		}
		for _, tn := range tunnels {
			for _, c := range []struct {
				what string
				want []string
			}{{"dns", tn.servers}, {"domain", tn.search}} {
				out, err := r.resolvectl(c.what, tn.name)
				for _, w := range c.want {
					if err != nil || !strings.Contains(out, w) {
						t.Errorf("resolvectl %s %s while both are up: %v: %q, want %q", c.what, tn.name, err, out, w)
					}
				}
			}
		}
		for i, k := range down {
			sc.must(t, "down "+tunnels[k].name)
			// The other tunnel keeps its settings.
			if i == 0 {
				other := tunnels[1-k]
				if out, err := r.resolvectl("dns", other.name); err != nil || !strings.Contains(out, other.servers[0]) {
					t.Errorf("after %s went down, %s's servers: %v: %q", tunnels[k].name, other.name, err, out)
				}
			}
		}
		sc.stop(t)
		if after := view(); after != before {
			t.Errorf("down order %v: resolved's view:\n%s\nwant:\n%s", down, after, before)
		}
	}
}

// TestDNSResolvedTimeout: a systemd-resolved that does not answer (here
// stopped with SIGSTOP) makes Set and Revert fail once the Host's Timeout
// has passed, with an error that says so, though the caller's context
// has no deadline.
func TestDNSResolvedTimeout(t *testing.T) {
	r := newResolvedSetup(t, "203.0.113.1")
	addr, ok := strings.CutPrefix(r.bus.Env(), "DBUS_SYSTEM_BUS_ADDRESS=")
	if !ok {
		t.Fatalf("bus environment %q", r.bus.Env())
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	if err := r.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.proc.Signal(syscall.SIGCONT) })
	h := &dns.Host{Logger: log.New(io.Discard, "", 0), Manager: plan.DNSResolved, Timeout: time.Second,
		LinkIndex: func(string) (int, error) { return 1, nil }}
	defer h.Close()
	d := &plan.DNS{Manager: plan.DNSResolved, Servers: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
	for _, call := range []struct {
		name string
		fn   func(context.Context, string, *plan.DNS) error
	}{{"Set", h.Set}, {"Revert", h.Revert}} {
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- call.fn(context.Background(), "lo", d) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			r.proc.Signal(syscall.SIGCONT)
			t.Fatalf("%s still waiting for resolved after 10s", call.name)
		}
		took := time.Since(start)
		t.Logf("%s failed after %v: %v", call.name, took.Round(time.Millisecond), err)
		if err == nil || !strings.Contains(err.Error(), "timed out after 1s") || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want a timeout error", call.name, err)
		}
		if took > 5*time.Second {
			t.Errorf("%s took %v with a timeout of 1s", call.name, took)
		}
	}
}
