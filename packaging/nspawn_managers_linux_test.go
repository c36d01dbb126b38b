package packaging

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestNetworkManagers is issue 16: the installed package in Debian 12 and
// 13 containers under systemd, the LAN (eth0) owned by a real
// NetworkManager and then by a real systemd-networkd, a full tunnel
// connected, a ping every 50 ms to an address beyond the LAN (target4,
// which the peer has; before the tunnel it is reached through the LAN's
// gateway, so a packet that goes around the tunnel shows), and tcpdump on
// the peer's side of the LAN counting what leaves outside the tunnel.
// Each row is an ordinary action of the manager; after each one the
// tunnel must carry traffic within 2 s, Status must say connected and
// ok, and with the kill switch on nothing may leak. With it off the
// count is reported, and must be 0 where the manager leaves our link
// alone (NetworkManager, told that the link is unmanaged). Disconnect
// must give back the network as the manager left it.
func TestNetworkManagers(t *testing.T) {
	deb, _ := packages(t)
	for _, suite := range nspawnSuites {
		t.Run(suite, func(t *testing.T) {
			b := bootForChecks(t, suite, map[string]string{"/srv/wgtray/old.deb": deb})
			if !t.Run("install", func(t *testing.T) { b.install(t) }) {
				return
			}
			b.mustCLI(t, memberUser, "import", "/srv/wgtray/demo.conf", "--name", tunnel)
			for _, m := range lanManagers {
				if !t.Run(m.name, func(t *testing.T) { b.underManager(t, m) }) {
					return // the next manager needs this one gone
				}
			}
		})
	}
}

// lanManager is a network manager owning the container's LAN.
type lanManager struct {
	name  string
	unit  string
	files map[string]string // written inside before it starts
	rows  []managerRow
}

// managerRow is an action of a manager that used to break tunnels.
type managerRow struct {
	name   string
	script string
	// leavesLink: the manager leaves our link and routing alone, so that
	// nothing may leak even without the kill switch.
	leavesLink bool
}

// lanKeyfile is NetworkManager's connection for the LAN: the address
// and gateway bootForChecks gives eth0, static, with the LAN's DNS
// server (nmConn is its name).
const (
	lanKeyfilePath = "/etc/NetworkManager/system-connections/" + nmConn + ".nmconnection"
	lanKeyfile     = `[connection]
id=` + nmConn + `
type=ethernet
interface-name=eth0
autoconnect=true

[ipv4]
method=manual
address1=192.0.2.2/24,192.0.2.1
dns=` + lanDNS + `;

[ipv6]
method=manual
address1=2001:db8:1::2/64,2001:db8:1::1
addr-gen-mode=eui64
`
)

var lanManagers = []lanManager{
	{
		name:  "NetworkManager",
		unit:  "NetworkManager.service",
		files: map[string]string{lanKeyfilePath: lanKeyfile},
		rows: []managerRow{
			// What a roam or a DHCP renew does.
			{"connection up", "nmcli connection up " + nmConn, true},
			// What suspend and resume do.
			{"networking off and on", "nmcli networking off; sleep 1; nmcli networking on", true},
			// It forgets runtime settings, Managed among them.
			{"restart", "systemctl restart NetworkManager", true},
		},
	},
	{
		name: "systemd-networkd",
		unit: "systemd-networkd.service",
		files: map[string]string{"/etc/systemd/network/10-lan.network": `[Match]
Name=eth0

[Network]
Address=192.0.2.2/24
Gateway=192.0.2.1
Address=2001:db8:1::2/64
Gateway=2001:db8:1::1
DNS=192.0.2.1
IPv6AcceptRA=no
`},
		// ManageForeignRoutingPolicyRules=yes, its default: each of these
		// deletes every rule that no .network file names, ours too; the
		// routing guard puts them back.
		rows: []managerRow{
			{"networkctl reconfigure", "networkctl reconfigure eth0", false},
			{"networkctl reload", "networkctl reload", false},
			{"restart", "systemctl restart systemd-networkd", false},
		},
	},
}

// underManager hands the LAN to m, connects, runs m's rows with the kill
// switch on and off, disconnects, and hands the LAN back.
func (b *booted) underManager(t *testing.T, m lanManager) {
	// The LAN as bootForChecks made it goes; the manager makes it again,
	// with a default route through the peer.
	b.c.Shell(t, "ip addr flush dev eth0; ip -4 route flush dev eth0; ip -6 route flush dev eth0")
	for path, data := range m.files {
		// NetworkManager reads only keyfiles that are root's alone;
		// networkd runs as systemd-network and reads .network files
		// anyone may.
		perm := os.FileMode(0o644)
		if strings.HasSuffix(path, ".nmconnection") {
			perm = 0o600
		}
		b.c.WriteFile(t, path, []byte(data), perm)
	}
	b.c.MustRun(t, "systemctl", "start", m.unit)
	b.waitLAN(t)
	// The rows change what the manager does to links that are not ours
	// (NetworkManager's restart gives lo's ::1 back without its
	// noprefixroute flag): run each once without a tunnel, so that the
	// network to come back to is the one the manager leaves after them.
	for _, r := range m.rows {
		b.c.Shell(t, r.script)
		b.waitLAN(t)
	}
	before := b.dump(t)
	if err := b.ping(t); err != nil {
		t.Fatalf("%s's LAN does not reach %s before the tunnel: %v", m.name, target4, err)
	}

	b.mustCLI(t, memberUser, "connect", tunnel)
	b.checkCarries(t, "after connect")
	if m.name == "NetworkManager" {
		b.checkUnmanaged(t)
	}
	for _, ks := range []string{"on", "off"} {
		b.mustCLI(t, memberUser, "set", tunnel, "kill-switch", ks)
		for _, r := range m.rows {
			t.Run(r.name+", kill switch "+ks, func(t *testing.T) {
				res := b.runRow(t, r)
				t.Logf("%s %s, %s, kill switch %s: %d of %d pings answered, longest gap %v, %d packets outside the tunnel; routing deleted %d times, put back after at most %v",
					b.suite, m.name, r.name, ks, res.received, res.sent, res.gap, res.leaks, res.deleted, res.window)
				if res.leaks != 0 && (ks == "on" || r.leavesLink) {
					t.Errorf("%d packets left outside the tunnel:\n%s", res.leaks, res.capture)
				}
				if r.leavesLink && res.deleted != 0 {
					t.Errorf("%s deleted the tunnel's rules or routes %d times", m.name, res.deleted)
				}
				if m.name == "NetworkManager" {
					b.checkUnmanaged(t)
				}
				if res.window > time.Second {
					t.Errorf("the routing guard put the deleted routing back after %v, want within 1 s", res.window)
				}
			})
		}
	}
	b.mustCLI(t, memberUser, "set", tunnel, "kill-switch", "on")
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.waitLAN(t)
	if now := b.dump(t); now != before {
		t.Errorf("after disconnect the network differs from %s's:\n%s", m.name, netns.DumpDiff(before, now))
	}
	// The next manager starts from a LAN nobody owns.
	b.c.MustRun(t, "systemctl", "stop", m.unit)
	if m.name == "systemd-networkd" {
		b.c.Run(t, nil, "systemctl", "stop", "systemd-networkd.socket")
	}
}

// waitLAN waits until the manager has configured the LAN: its
// addresses, past duplicate address detection, and the default routes
// through the peer.
func (b *booted) waitLAN(t *testing.T) {
	t.Helper()
	const script = "ip addr show dev eth0; ip -4 route show default; ip -6 route show default"
	configured := func(out string) bool {
		return strings.Contains(out, "192.0.2.2/24") && strings.Contains(out, "2001:db8:1::2/64") && !strings.Contains(out, "tentative") &&
			strings.Contains(out, "default via 192.0.2.1 dev eth0") && strings.Contains(out, "default via 2001:db8:1::1 dev eth0")
	}
	b.c.WaitForState(t, 30*time.Second, 100*time.Millisecond, "the manager to configure eth0", func() (bool, string) {
		out, _ := b.c.Run(t, nil, "/bin/sh", "-c", script)
		return configured(out), out
	})
}

// checkCarries checks that the tunnel carries traffic again within 2 s
// (a ping through it is answered, the peer's counter rises, the route to
// target4 is the tunnel's) and that Status says connected and ok.
func (b *booted) checkCarries(t *testing.T, when string) {
	t.Helper()
	rx0 := b.peerRx(t)
	if err := b.pingWithin(t, 2); err != nil {
		t.Errorf("%s: no answer through the tunnel within 2 s: %v", when, err)
	}
	if rx := b.peerRx(t); rx <= rx0 {
		t.Errorf("%s: the peer received nothing: the ping did not go through the tunnel", when)
	}
	if route := b.c.MustRun(t, "ip", "route", "get", target4.String()); !strings.Contains(route, "dev "+tunnel) {
		t.Errorf("%s: ip route get %s: %s", when, target4, route)
	}
	b.c.WaitFor(t, 10*time.Second, 100*time.Millisecond, when+": Status to say connected and ok", func() bool {
		out, err := b.cli(t, memberUser, "status", "--json", tunnel)
		return err == nil && strings.Contains(out, `"state": "connected"`) && strings.Contains(out, `"health": "ok"`)
	})
}

// checkUnmanaged checks that NetworkManager has the tunnel's link as
// unmanaged (the helper told it so), not as an external connection of
// its own, which it would put to sleep with the LAN.
func (b *booted) checkUnmanaged(t *testing.T) {
	t.Helper()
	b.c.WaitFor(t, 10*time.Second, 100*time.Millisecond, "NetworkManager to have "+tunnel+" unmanaged", func() bool {
		out, _ := b.c.Run(t, nil, "nmcli", "-t", "-f", "DEVICE,STATE", "device", "status")
		return strings.Contains(out, tunnel+":unmanaged\n")
	})
}

// leakFilter is what tcpdump on the peer's lan0 counts as a leak: the
// client's packets to beyond the LAN that are not the tunnel's (UDP port
// 51820). The LAN itself, link-local and multicast traffic (neighbour
// discovery, IGMP and MLD reports) are no leak.
const leakFilter = `not udp port 51820 and ((ip and not dst net 192.0.2.0/24 and not dst net 224.0.0.0/4 and not dst host 255.255.255.255) or (ip6 and not dst net fe80::/10 and not dst net ff00::/8 and not dst net 2001:db8:1::/64))`

// rowResult is what a row measured.
type rowResult struct {
	sent, received int
	gap            time.Duration // the longest time without an answer
	leaks          int
	capture        string
	deleted        int           // our rules and routes deleted by the manager
	window         time.Duration // the longest until the guard put one back
}

// runRow runs a row's action with the pings, the capture and a routing
// monitor around it, then checks that the tunnel carries traffic again.
func (b *booted) runRow(t *testing.T, r managerRow) rowResult {
	b.rows++ // names each row's units and files apart
	n := strconv.Itoa(b.rows)
	capFile := "/srv/wgtray/row" + n + ".pcap"
	capUnit, pingUnit, monUnit := "wgt-cap"+n, "wgt-ping"+n, "wgt-mon"+n
	b.c.Start(t, capUnit, []string{"NetworkNamespacePath=/run/netns/" + peerNS}, "tcpdump", "-i", "lan0", "-n", "-U", "-w", capFile, leakFilter)
	b.c.WaitFor(t, 20*time.Second, 50*time.Millisecond, "tcpdump to listen", func() bool {
		return strings.Contains(b.c.Journal(t, "-u", capUnit), "listening on lan0")
	})
	b.c.Start(t, monUnit, nil, "ip", "-ts", "monitor", "rule", "route")
	// SIGINT: ping prints its totals only then.
	b.c.Start(t, pingUnit, []string{"KillSignal=SIGINT"}, "ping", "-n", "-D", "-i", "0.05", target4.String())
	b.c.WaitFor(t, 10*time.Second, 50*time.Millisecond, "the first answer", func() bool {
		return strings.Contains(b.c.Journal(t, "-u", pingUnit), " bytes from ")
	})
	b.c.Shell(t, r.script)
	b.waitLAN(t)
	b.checkCarries(t, "after "+r.name)
	// And 2 s more of pings through the repaired tunnel (40 answers),
	// in which a late change of the manager's would leak too.
	answered := func() int {
		return strings.Count(b.c.MustRun(t, "journalctl", "--no-pager", "-o", "cat", "-u", pingUnit), " bytes from ")
	}
	after := answered() + 40
	b.c.WaitFor(t, 20*time.Second, 100*time.Millisecond, "40 more answers", func() bool { return answered() >= after })
	for _, u := range []string{pingUnit, monUnit, capUnit} {
		b.c.MustRun(t, "systemctl", "stop", u)
	}
	var res rowResult
	res.capture, _ = b.c.Run(t, nil, "tcpdump", "-n", "-r", capFile)
	for _, l := range strings.Split(res.capture, "\n") {
		if strings.Contains(l, " > ") {
			res.leaks++
		}
	}
	res.sent, res.received, res.gap = pingStats(b.c.MustRun(t, "journalctl", "--no-pager", "-o", "cat", "-u", pingUnit))
	res.deleted, res.window = guardWindow(b.c.MustRun(t, "journalctl", "--no-pager", "-o", "cat", "-u", monUnit))
	return res
}

var (
	pingReply = regexp.MustCompile(`^\[(\d+\.\d+)\] \d+ bytes from`)
	pingTotal = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
)

// pingStats reads ping -D's output: packets sent and answered, and the
// longest time between two answers.
func pingStats(out string) (sent, received int, gap time.Duration) {
	var last float64
	for _, l := range strings.Split(out, "\n") {
		if m := pingReply.FindStringSubmatch(l); m != nil {
			ts, _ := strconv.ParseFloat(m[1], 64)
			if last != 0 && time.Duration((ts-last)*float64(time.Second)) > gap {
				gap = time.Duration((ts - last) * float64(time.Second))
			}
			last = ts
		}
		if m := pingTotal.FindStringSubmatch(l); m != nil {
			sent, _ = strconv.Atoi(m[1])
			received, _ = strconv.Atoi(m[2])
		}
	}
	return sent, received, gap.Round(time.Millisecond)
}

var monLine = regexp.MustCompile(`^\[([0-9T:.-]+)\] (Deleted )?(.*)$`)

// guardWindow reads `ip -ts monitor rule route`: how many of our rules
// and table-51820 routes were deleted, and the longest time until the
// same one was added again.
func guardWindow(out string) (deleted int, window time.Duration) {
	open := map[string][]time.Time{}
	for _, l := range strings.Split(out, "\n") {
		m := monLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		what := strings.Join(strings.Fields(m[3]), " ")
		if !strings.Contains(what, "lookup 51820") && !strings.Contains(what, "suppress_prefixlength 0") && !strings.Contains(what, "table 51820") {
			continue
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999", m[1])
		if err != nil {
			continue
		}
		if m[2] != "" {
			deleted++
			open[what] = append(open[what], ts)
			continue
		}
		if q := open[what]; len(q) > 0 {
			if d := ts.Sub(q[0]); d > window {
				window = d
			}
			open[what] = q[1:]
		}
	}
	for _, q := range open {
		if len(q) > 0 {
			// Deleted and never put back while the monitor ran.
			window = time.Hour
		}
	}
	return deleted, window
}
