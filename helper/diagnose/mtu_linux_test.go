package diagnose

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// dropFragNeeded is an nftables table for the peer that drops the ICMP
// "fragmentation needed" errors it would send: the black hole of a
// misconfigured firewall.
const dropFragNeeded = `table inet wgtray-test-blackhole {
	chain out {
		type filter hook output priority 0; policy accept;
		icmp type destination-unreachable icmp code frag-needed drop
		icmpv6 type packet-too-big drop
	}
}
`

// TestDoctorMTUBlackHole: past the peer, the path to the internet host
// carries only 1300 bytes, and the peer's "fragmentation needed" errors
// are dropped: the DF pings find the largest size that gets through and
// the check suggests it as the tunnel's MTU; DF pings of the suggested
// size pass, one byte more do not. Without the drop, the same path says
// so by ICMP and the check is ok.
func TestDoctorMTUBlackHole(t *testing.T) {
	s := newSetup(t, setupOpts{})
	netns.IP(t, s.tp.Peer, "link set wan0 mtu 1300")
	netns.IP(t, s.tp.Inet, "link set eth0 mtu 1300")
	s.handshake(t)

	t.Run("black hole", func(t *testing.T) {
		nft := netns.WriteConf(t, t.TempDir(), "blackhole", dropFragNeeded)
		netns.MustRun(t, s.tp.Peer, "nft", "-f", nft)
		t.Cleanup(func() { netns.MustRun(t, s.tp.Peer, "nft", "delete", "table", "inet", "wgtray-test-blackhole") })
		// First, before the kernel has learnt the path's MTU from a
		// "fragmentation needed": ping -M do below relies on it.
		rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: s.tp.InetAddr4})
		c := want(t, rep, "mtu.path", ipc.VerdictProblem,
			"Packets larger than 1300 bytes to 198.51.100.2 through "+s.name+" vanish without an ICMP \"fragmentation needed\" coming back: a path-MTU black hole")
		if c.Fix != "Add \"MTU = 1300\" to the [Interface] section of "+s.name+"'s config and reconnect." {
			t.Errorf("fix: %q", c.Fix)
		}
		// 1300 bytes: 20 of IP header, 8 of ICMP, 1272 of payload.
		if _, err := netns.Run(s.tp.Client, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1272", "198.51.100.2"); err != nil {
			t.Errorf("a DF ping of the suggested 1300 bytes: %v", err)
		}
		if out, err := netns.Run(s.tp.Client, "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1273", "198.51.100.2"); err == nil {
			t.Errorf("a DF ping of 1301 bytes passed the black hole: %s", out)
		}
		// And over IPv6, whose "packet too big" the peer drops too.
		rep = s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: s.tp.InetAddr6})
		want(t, rep, "mtu.path", ipc.VerdictProblem,
			"Packets larger than 1300 bytes to 2001:db8:2::2 through "+s.name+" vanish without an ICMPv6 \"packet too big\" coming back")
	})
	t.Run("frag-needed arrives", func(t *testing.T) {
		rep := s.diagnose(t, ipc.DiagnoseOptions{Active: true, MTUHost: s.tp.InetAddr4})
		c := want(t, rep, "mtu.path", ipc.VerdictOK, "The path to 198.51.100.2 carries at most 1300 bytes, less than "+s.name+"'s MTU of 1420, and says so")
		if !strings.Contains(c.Fix, "MTU = 1300") {
			t.Errorf("fix: %q", c.Fix)
		}
	})
}

// TestProbesTakeTurns: while another check's probes run, a check whose
// time runs out first skips its own and says so, instead of waiting.
func TestProbesTakeTurns(t *testing.T) {
	ns := netns.NewNS(t)
	g := NewGatherer(nil, nil)
	g.ResolvConf = filepath.Join(t.TempDir(), "resolv.conf")
	g.probesOnce.Do(func() { g.probes = make(chan struct{}, 1) })
	g.probes <- struct{}{} // another check's probes
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var rep ipc.Report
	if err := netns.In(ns, func() error {
		rep = g.Run(ctx, nil, ipc.DiagnoseOptions{Active: true}, 0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want(t, rep, "probes.skipped", ipc.VerdictWarning, "The active probes did not run")
	<-g.probes
}
