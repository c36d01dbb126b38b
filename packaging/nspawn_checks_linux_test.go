package packaging

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/nspawn"
)

// TestInstalledUnderSystemd installs the .deb in a Debian 12 and a Debian
// 13 container booted with systemd-nspawn, under their own systemd as
// PID 1, and checks it as users get it: D-Bus activation by systemd, the
// unit's sandbox, polkit, a tunnel to a real WireGuard peer, DNS with
// systemd-resolved, a crash, an upgrade and purge (checks 1-9 of issue 15,
// each a subtest, in an order that lets one boot serve them all).
func TestInstalledUnderSystemd(t *testing.T) {
	nspawn.RequireTools(t)
	deb, _ := packages(t)
	newDeb := bumpedDeb(t, deb)
	for _, suite := range nspawnSuites {
		t.Run(suite, func(t *testing.T) {
			start := time.Now()
			b := bootForChecks(t, suite, map[string]string{"/srv/wgtray/old.deb": deb, "/srv/wgtray/new.deb": newDeb})
			if !t.Run("install", func(t *testing.T) { b.install(t) }) {
				return
			}
			steps := []struct {
				name string
				fn   func(*testing.T)
			}{
				{"1 activation and confinement", b.checkActivation},
				{"1 device policy enforced", b.checkDevices},
				{"5 verify and security", b.checkAnalyze},
				{"2 member connects, others refused", b.checkConnect},
				{"8 DNS with systemd-resolved", b.checkDNS},
				{"3 disconnect restores", b.checkDisconnect},
				{"5 journal clean", b.checkJournal},
				{"9 login session", b.checkSession},
				{"4 killed helper cleaned up and restarted", b.checkKill},
				{"6 upgrade with a tunnel up", func(t *testing.T) { b.checkUpgrade(t, debVersion(t, newDeb)) }},
				{"7 purge with a tunnel up", b.checkPurge},
				{"5 no key in the journal", b.checkNoKey},
			}
			for _, s := range steps {
				t.Run(s.name, s.fn)
			}
			t.Logf("%s: all checks in %v", suite, time.Since(start).Round(time.Second))
		})
	}
}

// install installs the package (its dependencies are in the tree), and
// makes the users once the package has made group wgtray.
func (b *booted) install(t *testing.T) {
	out := b.c.MustRun(t, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "/srv/wgtray/old.deb")
	t.Logf("apt-get install:\n%s", out)
	if out := b.c.MustRun(t, "getent", "group", "wgtray"); !strings.HasPrefix(out, "wgtray:") {
		t.Fatalf("getent group wgtray: %q", out)
	}
	// The package made the group: purge must remove it.
	if _, err := b.c.ReadFile("/var/lib/wgtray/group-created"); err != nil {
		t.Errorf("no marker of the group's creation: %v", err)
	}
	b.addUsers(t)
}

// checkActivation: nothing runs before the first call; a member's
// `wgtray list` has systemd start the unit through D-Bus activation; the
// helper has only CAP_NET_ADMIN, no_new_privs and a seccomp filter.
func (b *booted) checkActivation(t *testing.T) {
	if state, pid := b.helper(t); state != "inactive" || pid != 0 {
		t.Errorf("before the first call the unit is %s (pid %d)", state, pid)
	}
	if procs := b.helperProcs(t); len(procs) > 0 {
		t.Errorf("helper processes before the first call: %v", procs)
	}
	if out := b.c.MustRun(t, "busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", "org.wgtray.Helper1"); strings.TrimSpace(out) != "b false" {
		t.Errorf("org.wgtray.Helper1 has an owner before the first call: %s", out)
	}
	b.mustCLI(t, memberUser, "list")
	state, pid := b.helper(t)
	if state != "active" || pid == 0 {
		t.Fatalf("after wgtray list the unit is %s (pid %d)", state, pid)
	}
	bus := b.c.Journal(t, "-u", "dbus.service")
	if !regexp.MustCompile(`Activating via systemd: service name='org\.wgtray\.Helper1' unit='wgtray-helper\.service'`).MatchString(bus) {
		t.Errorf("the bus did not activate the helper through systemd:\n%s", bus)
	}
	exe := strings.TrimSpace(b.c.MustRun(t, "readlink", "/proc/"+strconv.Itoa(pid)+"/exe"))
	if exe != installedHelper {
		t.Errorf("the unit's main process runs %q", exe)
	}
	status := b.c.MustRun(t, "cat", "/proc/"+strconv.Itoa(pid)+"/status")
	// CAP_NET_ADMIN is capability 12.
	for _, want := range []string{"CapPrm:\t0000000000001000", "CapEff:\t0000000000001000",
		"CapBnd:\t0000000000001000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, want+"\n") {
			t.Errorf("the helper's status lacks %q:\n%s", want, status)
		}
	}
	// The inheritable set: empty under Debian 12's systemd 252,
	// CAP_NET_ADMIN under Debian 13's 257, whose services keep PID 1's
	// inheritable set masked by their bounding set; nspawn starts the
	// container's PID 1 with a full one, where the kernel starts a real
	// machine's with none. Either way nothing more than the bounding set,
	// and under no_new_privs an exec gains nothing from it (file
	// capabilities do not apply).
	inh := regexp.MustCompile(`(?m)^CapInh:\t([0-9a-f]+)$`).FindStringSubmatch(status)
	if inh == nil || (inh[1] != "0000000000000000" && inh[1] != "0000000000001000") {
		t.Errorf("the helper's inheritable capabilities: %v", inh)
	} else {
		t.Logf("%s: CapInh %s", b.suite, inh[1])
	}
}

// checkDevices: the unit's DevicePolicy=closed and DeviceAllow=/dev/net/tun
// are enforced, which systemd does with a BPF program on the unit's
// cgroup (nspawn's --system-call-filter=bpf lets it install one): a
// shell moved into the helper's cgroup opens /dev/net/tun but not a node
// of /dev/kmsg (char 1:11, which closed does not allow), which a shell in
// a unit of its own opens. (Pseudo terminals, such as the container's
// /dev/console, are always allowed.)
func (b *booted) checkDevices(t *testing.T) {
	const open = `(exec 3<>/dev/net/tun) 2>/dev/null && echo tun=yes || echo tun=no; (exec 3>/srv/wgtray/kmsg) 2>/dev/null && echo kmsg=yes || echo kmsg=no`
	if out := b.c.Shell(t, "[ -e /srv/wgtray/kmsg ] || mknod /srv/wgtray/kmsg c 1 11; "+open); !strings.Contains(out, "tun=yes") || !strings.Contains(out, "kmsg=yes") {
		t.Fatalf("outside the helper's cgroup: %s", out)
	}
	cg := "/sys/fs/cgroup/system.slice/" + helperUnit + "/cgroup.procs"
	out := b.c.Shell(t, "echo $$ >"+cg+"; grep -q "+helperUnit+" /proc/self/cgroup && echo moved; "+open)
	if !strings.Contains(out, "moved") || !strings.Contains(out, "tun=yes") || !strings.Contains(out, "kmsg=no") {
		t.Errorf("in the helper's cgroup (want moved, tun=yes, kmsg=no): %s", out)
	}
}

// checkAnalyze: the live unit's exposure is below 3.0 and systemd-analyze
// verify says nothing, with each suite's own systemd.
func (b *booted) checkAnalyze(t *testing.T) {
	out, _ := b.c.Run(t, nil, "systemd-analyze", "security", "--no-pager", helperUnit)
	m := regexp.MustCompile(`Overall exposure level for wgtray-helper\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security's output:\n%s", out)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("%s: exposure level of the live unit: %.1f", b.suite, score)
	if score >= 3.0 {
		t.Errorf("exposure level %.1f, want below 3.0:\n%s", score, out)
	}
	if out, err := b.c.Run(t, nil, "systemd-analyze", "verify", "/usr/lib/systemd/system/"+helperUnit); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// checkConnect: a member imports and connects without a password; traffic
// to the peer goes through the tunnel (table 51820, the peer's counters
// rise); a user outside group wgtray is refused and nothing changes.
func (b *booted) checkConnect(t *testing.T) {
	if err := b.ping(t); err == nil {
		t.Fatal("the peer's address answers without a tunnel")
	}
	// Not a member: refused, and nothing changes.
	if out, err := b.cli(t, outsiderUser, "import", "/srv/wgtray/demo.conf", "--name", tunnel); err == nil {
		t.Errorf("a non-member imported a tunnel: %s", out)
	}
	b.mustCLI(t, memberUser, "import", "/srv/wgtray/demo.conf", "--name", tunnel)
	if out, err := b.cli(t, outsiderUser, "connect", tunnel); err == nil {
		t.Errorf("a non-member connected: %s", out)
	} else if !strings.Contains(strings.ToLower(out), "not") {
		t.Logf("the refusal says: %s", out)
	}
	b.checkClean(t, "after a non-member's connect")

	rx0 := b.peerRx(t)
	b.mustCLI(t, memberUser, "connect", tunnel)
	route := b.c.MustRun(t, "ip", "route", "get", target4.String())
	if !strings.Contains(route, "dev "+tunnel) || !strings.Contains(route, "table 51820") {
		t.Errorf("ip route get %s: %s; want dev %s in table 51820", target4, route, tunnel)
	}
	if err := b.ping(t); err != nil {
		t.Errorf("no answer through the tunnel: %v", err)
	}
	if rx := b.peerRx(t); rx <= rx0 {
		t.Errorf("the peer received %d bytes, %d before: the traffic did not go through the tunnel", rx, rx0)
	}
	// A non-member cannot take it down either.
	before := b.dump(t)
	if out, err := b.cli(t, outsiderUser, "disconnect", tunnel); err == nil {
		t.Errorf("a non-member disconnected: %s", out)
	}
	if now := b.dump(t); now != before {
		t.Errorf("a non-member's disconnect changed the network:\n%s", netns.DumpDiff(before, now))
	}
}

// checkDNS: with the real systemd-resolved, a full tunnel gets the
// routing domain ~. and the default route; queries go to the peer's
// server through the tunnel; after disconnect all of it is gone.
func (b *booted) checkDNS(t *testing.T) {
	if out := b.c.MustRun(t, "systemctl", "is-active", "systemd-resolved"); strings.TrimSpace(out) != "active" {
		t.Fatalf("systemd-resolved is %s", out)
	}
	status := b.c.MustRun(t, "resolvectl", "status", tunnel)
	for _, re := range []string{`(?m)DNS Servers?: ` + regexp.QuoteMeta(peerTunnel4.String()), `(?m)DNS Domain: .*~\.`} {
		if !regexp.MustCompile(re).MatchString(status) {
			t.Errorf("resolvectl status %s lacks %s:\n%s", tunnel, re, status)
		}
	}
	// systemd 252 shows it as +DefaultRoute in the status; both say it
	// here.
	if out := b.c.MustRun(t, "resolvectl", "default-route", tunnel); !strings.HasSuffix(strings.TrimSpace(out), ": yes") {
		t.Errorf("resolvectl default-route %s: %s", tunnel, out)
	}
	rx0 := b.peerRx(t)
	out, err := b.c.Run(t, nil, "resolvectl", "query", "--cache=no", dnsName)
	if err != nil || !strings.Contains(out, dnsAnswer.String()) {
		t.Errorf("resolvectl query %s: %v\n%s", dnsName, err, out)
	}
	// The query reached the peer's server from the client's tunnel
	// address, so through the tunnel.
	want := "query[A] " + dnsName + " from " + clientTun4.String()
	b.c.WaitFor(t, 10*time.Second, 100*time.Millisecond, "dnsmasq to log "+want, func() bool {
		return strings.Contains(b.c.Journal(t, "-u", "wgt-dns.service"), want)
	})
	if rx := b.peerRx(t); rx <= rx0 {
		t.Errorf("the peer received nothing more through the tunnel during the query")
	}
}

// checkDisconnect: disconnecting restores rules, routes of all tables,
// links, the nftables ruleset and the sysctls, and resolved forgets the
// tunnel.
func (b *booted) checkDisconnect(t *testing.T) {
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.checkClean(t, "after disconnect")
	status := b.c.MustRun(t, "resolvectl", "status")
	if strings.Contains(status, peerTunnel4.String()) || strings.Contains(status, "("+tunnel+")") {
		t.Errorf("resolved still knows the tunnel after disconnect:\n%s", status)
	}
	if out, err := b.c.Run(t, nil, "resolvectl", "query", "--cache=no", dnsName); err == nil {
		t.Errorf("%s still resolves after disconnect: %s", dnsName, out)
	}
}

// checkJournal: on the normal path, the unit's journal has no error or
// warning lines, whatever their priority says.
func (b *booted) checkJournal(t *testing.T) {
	if j := b.c.Journal(t, "-q", "-u", helperUnit, "-p", "warning"); strings.TrimSpace(j) != "" {
		t.Errorf("the unit's journal has messages of priority warning or higher:\n%s", j)
	}
	// Nor does anything else complain about the package's files: the
	// bus about the policy, polkitd about the actions and the rule,
	// systemd about the unit or the tmpfiles line.
	for _, l := range strings.Split(b.c.Journal(t, "-q", "-p", "warning"), "\n") {
		// The message, after "HOST IDENT[PID]: " (the host name is
		// wgtray-test), leaving out systemd's about the test's own
		// commands (transient units run-u*, run-p*), which name their
		// command lines and may fail on purpose.
		_, msg, _ := strings.Cut(l, "]: ")
		if regexp.MustCompile(`\brun-[up][0-9-i]+\.service\b`).MatchString(msg) {
			continue
		}
		if strings.Contains(strings.ToLower(msg), "wgtray") {
			t.Errorf("a warning about the package: %s", l)
		}
	}
	t.Logf("%s: polkitd says:\n%s", b.suite, b.c.Journal(t, "-q", "-u", "polkit.service"))
	all := b.c.Journal(t, "-u", helperUnit)
	for _, l := range strings.Split(all, "\n") {
		if regexp.MustCompile(`(?i)\b(error|warn|warning|fail|failed)\b`).MatchString(l) {
			t.Errorf("the unit's journal on the normal path: %s", l)
		}
	}
	t.Logf("the unit's journal so far:\n%s", all)
}

// checkNoKey: no private key ever reached the journal, of any unit, on any
// path.
func (b *booted) checkNoKey(t *testing.T) {
	all := b.c.Journal(t)
	for name, key := range map[string]string{"client": b.tp.ClientPrivateKey.String(), "peer": b.peer.String()} {
		if strings.Contains(all, key) {
			t.Errorf("the %s's private key is in the journal", name)
		}
	}
	if len(all) < 1000 {
		t.Errorf("the journal is suspiciously short (%d bytes)", len(all))
	}
}
