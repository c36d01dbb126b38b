package packaging

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/nspawn"
)

// The LAN's DNS server of TestDNSUnderNetworkManager: dnsmasq on the
// peer's side of the LAN, the server of NetworkManager's connection, and
// what it answers for dnsName, so that an answer tells which server gave
// it.
const (
	lanDNS       = "192.0.2.1"
	lanDNSAnswer = "198.51.100.8"
	lanDNSUnit   = "wgt-landns.service"
	tunDNSUnit   = "wgt-dns.service"
	nmConn       = "lan"
)

// TestDNSUnderNetworkManager is the DNS row of issue 16: NetworkManager
// owns /etc/resolv.conf (dns=default, no systemd-resolved) and manages
// the LAN, a full tunnel has a DNS server. While connected, queries reach
// the tunnel's server only — also after NM re-activates the LAN and
// after networking off and on, which make NM rewrite the file — and
// after disconnect the file and NM's global DNS are as NM had them; so
// after a SIGKILL of the helper, and with a global DNS the user had set.
func TestDNSUnderNetworkManager(t *testing.T) {
	nspawn.RequireTools(t)
	deb, _ := packages(t)
	for _, suite := range nspawnSuites {
		t.Run(suite, func(t *testing.T) {
			b := bootForChecks(t, suite, map[string]string{"/srv/wgtray/old.deb": deb})
			b.install(t)
			b.startNM(t)
			b.mustCLI(t, memberUser, "import", "/srv/wgtray/demo.conf", "--name", tunnel)
			steps := []struct {
				name string
				fn   func(*testing.T)
			}{
				{"connected", b.checkNMConnected},
				// nmcli returns once the connection is activated, its DNS
				// committed: NM's resolv.conf is what it is to be, and
				// NM leaves the file alone when its text stays the same.
				{"re-activation", func(t *testing.T) {
					b.c.MustRun(t, "nmcli", "connection", "up", nmConn)
					b.checkTunnelDNS(t, "reactivated")
				}},
				{"networking off and on", func(t *testing.T) {
					b.c.MustRun(t, "nmcli", "networking", "off")
					b.c.MustRun(t, "nmcli", "networking", "on")
					b.waitLANUp(t)
					b.checkTunnelDNS(t, "woken")
				}},
				{"disconnect", func(t *testing.T) { b.disconnectNM(t, "a{sv} 0") }},
				{"helper killed", b.checkNMKill},
				{"user's global DNS kept", b.checkNMUserGlobal},
				{"NetworkManager stopped", b.checkNMStopped},
				{"global DNS in NM's configuration", b.checkNMConfigGlobal},
			}
			for _, s := range steps {
				if !t.Run(s.name, s.fn) {
					t.Logf("NetworkManager's journal:\n%s", b.c.Journal(t, "-u", "NetworkManager", "-n", "60"))
					t.Logf("helper's journal:\n%s", b.c.Journal(t, "-u", helperUnit))
					return
				}
			}
			t.Logf("%s: helper's journal:\n%s", suite, b.c.Journal(t, "-u", helperUnit))
		})
	}
}

// startNM gives the LAN to NetworkManager with DNS in resolv.conf:
// systemd-resolved stopped and masked, /etc/resolv.conf a regular file,
// dnsmasq on the LAN's server, a keyfile connection for eth0 with its
// address and server. The helper itself marks the tunnel's link
// unmanaged (package networkmanager), so that networking off leaves it.
func (b *booted) startNM(t *testing.T) {
	t.Helper()
	b.c.Start(t, "wgt-landns", []string{"NetworkNamespacePath=/run/netns/" + peerNS}, "dnsmasq", "--keep-in-foreground",
		"--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address="+lanDNS, "--port=53",
		"--user=root", "--pid-file=", "--log-queries", "--log-facility=-",
		fmt.Sprintf("--address=/%s/%s", dnsName, lanDNSAnswer))
	b.c.WriteFile(t, lanKeyfilePath, []byte(lanKeyfile), 0o600)
	// rc-manager=file: the tree has systemd-resolved's resolvconf, which
	// NM's "auto" would pick even with resolved masked.
	b.c.WriteFile(t, "/etc/NetworkManager/conf.d/90-wgtray-test.conf", []byte(`[main]
dns=default
rc-manager=file
`), 0o644)
	b.c.Shell(t, `
systemctl stop systemd-resolved
systemctl mask systemd-resolved
if mountpoint -q /etc/resolv.conf; then umount /etc/resolv.conf; fi
rm -f /etc/resolv.conf
echo "# before NetworkManager" >/etc/resolv.conf
ip addr flush dev eth0
systemctl start NetworkManager
`)
	b.waitLANUp(t)
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "NetworkManager to write "+lanDNS+" to resolv.conf", func() bool {
		return b.resolvConfServers() == lanDNS
	})
	mode := b.c.MustRun(t, "busctl", "get-property", "org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager/DnsManager",
		"org.freedesktop.NetworkManager.DnsManager", "Mode", "RcManager")
	ver := b.c.MustRun(t, "NetworkManager", "--version")
	t.Logf("NetworkManager %s DNS Mode and RcManager: %s", strings.TrimSpace(ver), strings.Join(scanLines(mode), " "))
	if g := b.nmGlobalDNS(t); g != "a{sv} 0" {
		t.Fatalf("NetworkManager has a global DNS before the test: %s", g)
	}
	// The LAN's server answers: queries have somewhere to leak to.
	if got := b.resolve(t, "before"); got != lanDNSAnswer {
		t.Fatalf("before any tunnel, %s resolves to %q, want the LAN's answer %s", dnsName, got, lanDNSAnswer)
	}
}

// waitLANUp waits for NM's connection to be activated on eth0.
func (b *booted) waitLANUp(t *testing.T) {
	t.Helper()
	b.c.WaitFor(t, 30*time.Second, 200*time.Millisecond, "NetworkManager to activate "+nmConn, func() bool {
		out, _ := b.c.Run(t, nil, "nmcli", "-g", "GENERAL.STATE", "connection", "show", nmConn)
		return strings.TrimSpace(out) == "activated"
	})
}

// resolvConfServers returns the nameservers of resolv.conf, space
// separated, as the C library reads it.
func (b *booted) resolvConfServers() string {
	data, _ := b.c.ReadFile("/etc/resolv.conf")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return strings.Join(out, " ")
}

// nmGlobalDNS returns NM's global DNS configuration as busctl shows it.
func (b *booted) nmGlobalDNS(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(b.c.MustRun(t, "busctl", "get-property", "org.freedesktop.NetworkManager",
		"/org/freedesktop/NetworkManager", "org.freedesktop.NetworkManager", "GlobalDnsConfiguration"))
}

// resolve looks up step.dnsName through the C library, as programs do,
// and returns the first address, "" when it fails.
func (b *booted) resolve(t *testing.T, step string) string {
	t.Helper()
	out, err := b.c.Run(t, nil, "getent", "ahostsv4", step+"."+dnsName)
	if err != nil {
		return ""
	}
	if f := strings.Fields(out); len(f) > 0 {
		return f[0]
	}
	return ""
}

// queries counts the queries for step.dnsName that unit's dnsmasq
// logged.
func (b *booted) queries(t *testing.T, unit, step string) int {
	t.Helper()
	return strings.Count(b.c.Journal(t, "-u", unit), "query[A] "+step+"."+dnsName+" ")
}

// checkTunnelDNS waits for resolv.conf to name the tunnel's server only
// (NM rewrites it after its changes), then resolves a name: the tunnel's
// server answers, the LAN's sees nothing.
func (b *booted) checkTunnelDNS(t *testing.T, step string) {
	t.Helper()
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "resolv.conf to name "+peerTunnel4.String()+" only", func() bool {
		return b.resolvConfServers() == peerTunnel4.String()
	})
	for i := range lookups {
		if got := b.resolve(t, step); got != dnsAnswer.String() {
			t.Errorf("%s: lookup %d: %s resolves to %q, want the tunnel's answer %s; resolv.conf names %q", step, i, dnsName, got, dnsAnswer, b.resolvConfServers())
		}
	}
	var tun int
	b.c.WaitFor(t, 10*time.Second, 100*time.Millisecond, "the tunnel's dnsmasq to log the queries", func() bool {
		tun = b.queries(t, tunDNSUnit, step)
		return tun >= lookups
	})
	lan := b.queries(t, lanDNSUnit, step)
	t.Logf("%s: queries seen at the tunnel's server %d, at the LAN's %d", step, tun, lan)
	if lan != 0 {
		t.Errorf("%s: %d queries went to the LAN's server", step, lan)
	}
}

// lookups is how many names each step resolves.
const lookups = 5

// afterNMRewrite runs action, which makes NetworkManager write
// resolv.conf with another text, and waits until it has: NM replaces the
// file, so its inode changes.
func (b *booted) afterNMRewrite(t *testing.T, action func()) {
	t.Helper()
	before := b.resolvConfIno(t)
	action()
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "NetworkManager to rewrite resolv.conf", func() bool {
		return b.resolvConfIno(t) != before
	})
}

// resolvConfIno returns the inode of /etc/resolv.conf, as a string.
func (b *booted) resolvConfIno(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(b.c.MustRun(t, "stat", "-c", "%i", "/etc/resolv.conf"))
}

// checkNMConfigGlobal: a global DNS in NM's own configuration cannot be
// changed over D-Bus, so the tunnel's DNS goes to the file, watched.
// Once NM replaces the file, the packaged unit's sandbox cannot put it
// back (it sees the file it started with, bind-mounted): the helper
// must say so in its log and in Status, and disconnect must leave NM's
// file.
func (b *booted) checkNMConfigGlobal(t *testing.T) {
	conf := "/etc/NetworkManager/conf.d/95-wgtray-test-global.conf"
	b.c.WriteFile(t, conf, []byte("[global-dns-domain-*]\nservers="+lanDNS+"\n"), 0o644)
	b.c.MustRun(t, "systemctl", "restart", "NetworkManager")
	b.waitLANUp(t)
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "NetworkManager to write "+lanDNS+" to resolv.conf", func() bool {
		return b.resolvConfServers() == lanDNS
	})
	// The helper starts after NM wrote the file, as at boot.
	b.c.MustRun(t, "systemctl", "restart", helperUnit)
	b.mustCLI(t, memberUser, "connect", tunnel)
	if status := b.mustCLI(t, memberUser, "status", tunnel); !strings.Contains(status, "dns set via:   resolv.conf") {
		t.Errorf("status does not say the DNS went to resolv.conf:\n%s", status)
	}
	b.checkTunnelDNS(t, "configglobal")
	// Its global DNS fixed, NM's text of the file does not change at a
	// re-activation, and NM writes the file only when its text changes:
	// a DNS change of a connection or a reload does it.
	b.afterNMRewrite(t, func() { b.c.MustRun(t, "nmcli", "general", "reload", "dns-rc") })
	b.c.WaitFor(t, 10*time.Second, 100*time.Millisecond, "the helper to report the replaced file", func() bool {
		return strings.Contains(b.c.Journal(t, "-u", helperUnit), "was replaced by another program")
	})
	if status := b.mustCLI(t, memberUser, "status", tunnel); !strings.Contains(status, "not in effect") {
		t.Errorf("status does not say the tunnel's DNS is not in effect:\n%s", status)
	}
	// What the helper reports is what happens: resolv.conf names the
	// LAN's server, to which the kill switch (on for a full tunnel)
	// lets no query through. Nothing leaks; names do not resolve.
	if got := b.resolvConfServers(); got != lanDNS {
		t.Errorf("NM's rewrite left resolv.conf naming %q, want %s", got, lanDNS)
	}
	for range lookups {
		if got := b.resolve(t, "replaced"); got != "" {
			t.Errorf("with NM's file back and the kill switch on, %s resolves to %q", dnsName, got)
		}
	}
	tun, lan := b.queries(t, tunDNSUnit, "replaced"), b.queries(t, lanDNSUnit, "replaced")
	t.Logf("replaced: queries seen at the tunnel's server %d, at the LAN's %d (reported; the kill switch drops them)", tun, lan)
	if lan != 0 {
		t.Errorf("%d queries leaked to the LAN's server", lan)
	}
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	if got := b.resolvConfServers(); got != lanDNS {
		t.Errorf("after disconnect resolv.conf names %q, want NetworkManager's %s", got, lanDNS)
	}
	b.c.MustRun(t, "rm", conf)
	b.c.MustRun(t, "systemctl", "restart", "NetworkManager")
}

// checkNMConnected: the tunnel's DNS goes to NetworkManager, which writes
// it to resolv.conf; Status says so.
func (b *booted) checkNMConnected(t *testing.T) {
	b.mustCLI(t, memberUser, "connect", tunnel)
	status := b.mustCLI(t, memberUser, "status", tunnel)
	if !strings.Contains(status, "NetworkManager") {
		t.Errorf("status does not say the DNS went to NetworkManager:\n%s", status)
	}
	t.Logf("global DNS while connected: %s", b.nmGlobalDNS(t))
	b.checkTunnelDNS(t, "connected")
}

// disconnectNM disconnects and checks that resolv.conf is NM's again,
// with the LAN's server answering, and NM's global DNS is want.
func (b *booted) disconnectNM(t *testing.T, want string) {
	t.Helper()
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "resolv.conf to name "+lanDNS+" again", func() bool {
		return b.resolvConfServers() == lanDNS
	})
	if g := b.nmGlobalDNS(t); g != want {
		t.Errorf("after disconnect NetworkManager's global DNS is %s, want %s", g, want)
	}
	if _, err := b.c.ReadFile("/var/lib/wgtray/nm-global-dns.json"); err == nil {
		t.Errorf("the helper's state of NM's global DNS outlived the last tunnel")
	}
	step := fmt.Sprintf("down%d", time.Now().UnixNano())
	if got := b.resolve(t, step); got != lanDNSAnswer {
		t.Errorf("after disconnect %s resolves to %q, want the LAN's answer %s", dnsName, got, lanDNSAnswer)
	}
}

// checkNMKill: SIGKILL of the whole unit while connected. The unit
// restarts and brings the tunnel back (the crash's cleanup took its DNS
// out, the restart puts it in again); DNS stays in the tunnel, and the
// disconnect then leaves NM as it was.
func (b *booted) checkNMKill(t *testing.T) {
	b.mustCLI(t, memberUser, "connect", tunnel)
	b.checkTunnelDNS(t, "prekill")
	_, pid := b.helper(t)
	b.c.MustRun(t, "systemctl", "kill", "-s", "KILL", helperUnit)
	b.c.WaitFor(t, 30*time.Second, 100*time.Millisecond, "the unit to restart", func() bool {
		state, newPid := b.helper(t)
		return state == "active" && newPid != 0 && newPid != pid
	})
	b.c.WaitFor(t, 30*time.Second, 200*time.Millisecond, "the restarted helper to bring the tunnel back", func() bool {
		out, err := b.cli(t, memberUser, "status", "--json", tunnel)
		return err == nil && strings.Contains(out, `"state": "connected"`)
	})
	b.checkTunnelDNS(t, "restarted")
	b.disconnectNM(t, "a{sv} 0")
}

// checkNMUserGlobal: a global DNS the user set before connecting comes
// back exactly as it was.
func (b *booted) checkNMUserGlobal(t *testing.T) {
	b.c.MustRun(t, "busctl", "set-property", "org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager",
		"org.freedesktop.NetworkManager", "GlobalDnsConfiguration", "a{sv}", "2",
		"searches", "as", "1", "corp.example",
		"domains", "a{sv}", "1", "*", "a{sv}", "1", "servers", "as", "1", lanDNS)
	before := b.nmGlobalDNS(t)
	t.Logf("the user's global DNS: %s", before)
	b.mustCLI(t, memberUser, "connect", tunnel)
	b.checkTunnelDNS(t, "userglobal")
	b.disconnectNM(t, before)
	// The next steps start from no global DNS.
	b.c.MustRun(t, "busctl", "set-property", "org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager",
		"org.freedesktop.NetworkManager", "GlobalDnsConfiguration", "a{sv}", "0")
}

// checkNMStopped: a disconnect while NetworkManager does not run
// succeeds, and when NM runs again (with the tunnel's global DNS, which
// it keeps) the helper gives it its original back.
func (b *booted) checkNMStopped(t *testing.T) {
	b.mustCLI(t, memberUser, "connect", tunnel)
	b.checkTunnelDNS(t, "prestop")
	b.c.MustRun(t, "systemctl", "stop", "NetworkManager")
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.c.MustRun(t, "systemctl", "start", "NetworkManager")
	b.waitLANUp(t)
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "NM's global DNS to be none again", func() bool {
		return b.nmGlobalDNS(t) == "a{sv} 0"
	})
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "resolv.conf to name "+lanDNS+" again", func() bool {
		return b.resolvConfServers() == lanDNS
	})
	if _, err := b.c.ReadFile("/var/lib/wgtray/nm-global-dns.json"); err == nil {
		t.Errorf("the helper's state of NM's global DNS outlived the restore")
	}
}
