package diagnose

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/debpkg"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// resolvedScript gives systemd-resolved a private /run and runs it, as
// package engine's tests do.
const resolvedScript = `set -e
mount -t tmpfs wgtray-run /run
mkdir -p /run/systemd/resolve
chown systemd-resolve:systemd-resolve /run/systemd/resolve
exec "$@"`

// TestDoctorResolved: with Debian's systemd-resolved (unpacked, on a
// private system bus) in the client namespace and resolv.conf naming
// its stub, the DNS check reads resolved's per-link state over D-Bus:
// the tunnel's link has "~.", so its server is the one used, reached
// through the tunnel. The test query goes to the stub, which forwards
// it through the tunnel: the tunnel's dnsmasq logs it from the tunnel
// address.
func TestDoctorResolved(t *testing.T) {
	netns.RequireRoot(t)
	root := debpkg.Unpacked(t, "systemd-resolved")
	sysbus.EnsureSystemUser(t, "systemd-resolve")
	s := newSetup(t, setupOpts{
		client:     netns.ClientOpts{AllowedIPs: "0.0.0.0/0", Addresses: "203.0.113.2/32", DNS: peerDNS.String()},
		resolvConf: "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
		dns:        "systemd-resolved",
		bus: func(t *testing.T, s *setup) string {
			bus := sysbus.Start(t, sysbus.Options{NoPolkit: true, ExtraPolicies: []string{
				filepath.Join(root, "usr/share/dbus-1/system.d/org.freedesktop.resolve1.conf"),
			}})
			startResolved(t, s.tp.Client, bus, root)
			return bus.Address
		},
	})
	dns := netns.StartDNS(t, s.tp.Peer, peerDNS, nil)
	s.handshake(t)
	rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true})
	c := want(t, rep, "leaks.dns", ipc.VerdictOK, "Every DNS server systemd-resolved names is reached through "+s.name+".")
	if len(c.Details) != 1 || !strings.HasPrefix(c.Details[0], "203.0.113.1 goes through tunnel "+s.name) {
		t.Errorf("servers: %q", c.Details)
	}
	q := want(t, rep, "leaks.dns-query", ipc.VerdictOK, "went to the resolver on this machine (127.0.0.53), which answered")
	name := strings.Fields(strings.TrimPrefix(q.Summary, "A test query for "))[0]
	dns.WaitQuery(t, name, s.tp.ClientTunnel4)
	want(t, rep, "conflicts.resolv-conf", ipc.VerdictOK, "")
}

// startResolved runs systemd-resolved in ns on bus and waits until it
// owns its name.
func startResolved(t *testing.T, ns string, bus *sysbus.Bus, root string) {
	t.Helper()
	conn := bus.Conn(t)
	owned := make(chan *dbus.Signal, 8)
	conn.Signal(owned)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, busResolved)); err != nil {
		t.Fatal(err)
	}
	p := netns.StartProc(t, ns, []string{bus.Env(), "SYSTEMD_LOG_TARGET=console"},
		"unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", resolvedScript, "sh",
		filepath.Join(root, "lib/systemd/systemd-resolved"))
	deadline := time.After(30 * time.Second)
	for {
		select {
		case sg := <-owned:
			if len(sg.Body) == 3 && sg.Body[2] != "" {
				return
			}
		case <-p.Exited():
			t.Fatalf("systemd-resolved exited: %s", p.Stderr())
		case <-deadline:
			t.Fatalf("systemd-resolved did not take its bus name: %s", p.Stderr())
		}
	}
}
