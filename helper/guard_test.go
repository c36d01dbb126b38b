package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// ourRulePrefs returns the priorities of the full tunnel's rules of one
// family ("-4" or "-6"): those that look up its table or suppress the
// main table's default route.
func ourRulePrefs(t *testing.T, ns, family string) []string {
	t.Helper()
	var prefs []string
	for _, line := range strings.Split(netns.MustRun(t, ns, "ip", family, "rule", "show"), "\n") {
		if strings.Contains(line, "lookup 51820") || strings.Contains(line, "suppress_prefixlength 0") {
			prefs = append(prefs, strings.TrimSuffix(strings.Fields(line)[0], ":"))
		}
	}
	return prefs
}

// deleteRouting does what systemd-networkd does to foreign rules, and
// more: every rule of the tunnel deleted, one by one, then its table
// flushed.
func deleteRouting(t *testing.T, ns string) {
	t.Helper()
	for _, fam := range []string{"-4", "-6"} {
		prefs := ourRulePrefs(t, ns, fam)
		if len(prefs) != 2 {
			t.Fatalf("ip %s rule: our rules at %v, want two", fam, prefs)
		}
		for _, p := range prefs {
			netns.MustRun(t, ns, "ip", fam, "rule", "del", "pref", p)
		}
	}
	for _, fam := range []string{"-4", "-6"} {
		netns.MustRun(t, ns, "ip", fam, "route", "flush", "table", "51820")
	}
}

// TestRoutingGuard: another program deletes a full tunnel's rules and
// flushes its table; the helper, told by netlink, puts exactly them back
// (the namespace is as before) and traffic goes through the tunnel
// again. Twice within a minute, it logs once. What it put back is
// journaled: after a SIGKILL, --cleanup leaves the namespace as it was
// before the connect.
func TestRoutingGuard(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgg")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	// Without the kill switch, whose block a crash keeps by design: this
	// is about the rules and routes.
	if err := s.client(t).SetTunnelOption(context.Background(), name, "kill-switch", "off"); err != nil {
		t.Fatal(err)
	}
	pristine := netns.Dump(t, s.tp.Client)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	port := s.tp.InetAddr4.String() + ":7004"
	netns.EchoSource(t, s.tp.Inet, port)
	before := netns.Dump(t, s.tp.Client)
	for round := range 2 {
		start := time.Now()
		deleteRouting(t, s.tp.Client)
		netns.WaitEvery(t, 20*time.Second, 20*time.Millisecond, "the rules and routes back", func() bool {
			return netns.Dump(t, s.tp.Client) == before
		})
		t.Logf("round %d: routing back %v after the deletions", round+1, time.Since(start).Round(time.Millisecond))
		if src := netns.SourceSeenBy(t, s.tp.Client, port); src != s.tp.ClientTunnel4 {
			t.Errorf("round %d: traffic left as %v, want the tunnel's %v", round+1, src, s.tp.ClientTunnel4)
		}
	}
	if n := len(regexp.MustCompile("put back").FindAllString(s.proc.Stderr(), -1)); n != 1 {
		t.Errorf("the helper logged %d repairs in under a minute, want 1:\n%s", n, s.proc.Stderr())
	}
	s.proc.Kill()
	s.proc.Wait(t, 10*time.Second)
	if _, stderr, code := runHelper(t, s.tp.Client, "--journal-dir", s.stateDir, "--wireguard=userspace", "--cleanup"); code != 0 {
		t.Fatalf("--cleanup: exit %d: %s", code, stderr)
	}
	if after := netns.Dump(t, s.tp.Client); after != pristine {
		t.Errorf("after SIGKILL and --cleanup:\n%s", netns.DumpDiff(pristine, after))
	}
}

// TestRoutingGuardCannot: the tunnel's link is set down behind the
// helper's back, which takes its routes with it, and a route through a
// link that is down cannot be added: the tunnel is stalled, saying why.
// The link up again, the routes are put back and it is ok.
func TestRoutingGuardCannot(t *testing.T) {
	s := startService(t)
	hs := s.watchHealth(t)
	name := netns.UniqueName("wgc")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	hs.waitFrom(t, 0, name, ipc.HealthOK, healthTimeout)
	before := netns.Dump(t, s.tp.Client)
	from := hs.mark()
	netns.IP(t, s.tp.Client, "link set "+name+" down")
	stalled, _ := hs.waitFrom(t, from, name, ipc.HealthStalled, healthTimeout)
	if !strings.Contains(stalled.Reason, "routing") {
		t.Errorf("stalled for %q, want the routing named", stalled.Reason)
	}
	from = hs.mark()
	netns.IP(t, s.tp.Client, "link set "+name+" up")
	hs.waitFrom(t, from, name, ipc.HealthOK, healthTimeout)
	waitDump(t, s.tp.Client, before, 20*time.Second)
	port := s.tp.InetAddr4.String() + ":7005"
	netns.EchoSource(t, s.tp.Inet, port)
	if src := netns.SourceSeenBy(t, s.tp.Client, port); src != s.tp.ClientTunnel4 {
		t.Errorf("traffic left as %v, want the tunnel's %v", src, s.tp.ClientTunnel4)
	}
}

// waitDump waits until the namespace's dump is want again, failing the
// test with the difference after timeout.
func waitDump(t *testing.T, ns, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := netns.Dump(t, ns)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace is not as before after %v:\n%s", timeout, netns.DumpDiff(want, got))
		}
		<-time.After(20 * time.Millisecond)
	}
}
