package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// TestKillSwitchCrash: a full tunnel with the kill switch (its default)
// carries traffic; the helper is SIGKILLed and --cleanup runs as
// ExecStopPost would: nothing leaves beyond the LAN (tcpdump on the peer
// side counts 0 packets for TCP, UDP, ICMP and DNS attempts), the LAN
// host answers with allow-lan and not without, DHCP and NDP still go out;
// the restarted helper adopts the block; an explicit Disconnect leaves the
// namespace as before Connect, byte for byte.
func TestKillSwitchCrash(t *testing.T) {
	s := startService(t)
	lanHost := s.tp.AddLANHost(t)
	name := netns.UniqueName("wgk")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	port := s.tp.InetAddr4.String() + ":7002"
	netns.EchoSource(t, s.tp.Inet, port)
	before := netns.Dump(t, s.tp.Client)
	c, ctx := s.client(t), context.Background()

	if err := c.Connect(ctx, name); err != nil {
		t.Fatalf("Connect: %v\n%s", err, s.proc.Stderr())
	}
	st, err := c.Status(ctx, name)
	if err != nil || !st.KillSwitch || !st.AllowLAN || !st.Blocking {
		t.Fatalf("Status: killSwitch %v allowLAN %v blocking %v (%v); want all true", st.KillSwitch, st.AllowLAN, st.Blocking, err)
	}
	if src := netns.SourceSeenBy(t, s.tp.Client, port); src != s.tp.ClientTunnel4 {
		t.Fatalf("traffic left with source %v, want the tunnel's %v", src, s.tp.ClientTunnel4)
	}
	if !pings(s.tp.Client, "192.0.2.3") {
		t.Error("connected with allow-lan: the LAN host does not answer")
	}

	s.killAndCleanup(t)
	leaks := netns.StartCapture(t, s.tp.Peer, "lan0", leakFilter)
	lanSide := netns.StartCapture(t, lanHost, "eth0", "udp port 67 or udp port 547 or (icmp6 and (ip6[40] == 133 or ip6[40] == 135 or ip6[40] == 136))")
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n != 0 {
		t.Errorf("after SIGKILL and --cleanup, %d attempts beyond the LAN got an answer", n)
	}
	if !pings(s.tp.Client, "192.0.2.3") || !pings(s.tp.Client, "2001:db8:1::3") {
		t.Error("allow-lan on: the LAN host does not answer")
	}
	dhcpDiscover(t, s.tp.Client)
	lanSide.WaitPacket(t, "192.0.2.2.68 > 255.255.255.255.67", 10*time.Second)
	pings(s.tp.Client, "2001:db8:1::99") // nobody: the neighbour solicitation still goes out
	lanSide.WaitPacket(t, "neighbor solicitation, who has 2001:db8:1::99", 10*time.Second)

	// The restarted helper adopts the block, and allow-lan off closes the
	// LAN too, but for DHCP and NDP. The tunnel is made not wanted up, so
	// that the restart does not bring it back (TestCrashThenRestart):
	// this is about the kept block alone.
	if err := os.Remove(filepath.Join(s.libDir(t), "wanted.json")); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	c = s.client(t)
	if st, err := c.Status(ctx, name); err != nil || st.State != ipc.StateDisconnected || !st.Blocking {
		t.Errorf("after restart: state %s blocking %v (%v); want disconnected and blocking", st.State, st.Blocking, err)
	}
	if err := c.SetTunnelOption(ctx, name, "allow-lan", "off"); err != nil {
		t.Fatal(err)
	}
	if pings(s.tp.Client, "192.0.2.3") {
		t.Error("allow-lan off: the LAN host answers")
	}
	mark := lanSide.Mark()
	dhcpDiscover(t, s.tp.Client)
	lanSide.WaitPacketAfter(t, mark, "192.0.2.2.68 > 255.255.255.255.67", 10*time.Second)
	// The client's own LAN packets are rejected before it would solicit a
	// neighbour, so NDP is shown the other way: the LAN host asks for the
	// client, whose neighbour advertisement goes out (the echo itself is
	// dropped on the way in).
	netns.MustRun(t, lanHost, "ip", "-6", "neigh", "flush", "all")
	pings(lanHost, "2001:db8:1::2")
	lanSide.WaitPacketAfter(t, mark, "neighbor advertisement, tgt is 2001:db8:1::2", 10*time.Second)
	routerSolicit(t, s.tp.Client)
	lanSide.WaitPacketAfter(t, mark, "> ff02::2: ICMP6, router solicitation", 10*time.Second)
	dhcp6Solicit(t, s.tp.Client)
	lanSide.WaitPacketAfter(t, mark, ".546 > ff02::1:2.547", 10*time.Second)
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n != 0 {
		t.Errorf("after the restart, %d attempts beyond the LAN got an answer", n)
	}
	if got := leaks.Stop(t); len(got) != 0 {
		t.Errorf("%d packets left beyond the LAN while blocked:\n%s", len(got), strings.Join(got, "\n"))
	} else {
		t.Logf("0 packets beyond the LAN while blocked (%s)", leakFilter)
	}
	if dhcp := lanSide.Stop(t); len(dhcp) < 4 {
		t.Errorf("the LAN side saw %d DHCP/NDP packets, want at least 4:\n%s", len(dhcp), strings.Join(dhcp, "\n"))
	}

	// Reconnect works over the kept block, then the explicit Disconnect
	// takes everything away.
	if err := c.Connect(ctx, name); err != nil {
		t.Fatalf("Connect over the kept block: %v\n%s", err, s.proc.Stderr())
	}
	if src := netns.SourceSeenBy(t, s.tp.Client, port); src != s.tp.ClientTunnel4 {
		t.Errorf("after reconnect, traffic left with source %v", src)
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(ctx, name); st.Blocking {
		t.Error("blocking after Disconnect")
	}
	if got := netns.Dump(t, s.tp.Client); got != before {
		t.Errorf("after Disconnect the namespace differs from before Connect:\n%s", netns.DumpDiff(before, got))
	}
	// The control: unblocked, the same capture does count what leaves.
	control := netns.StartCapture(t, s.tp.Peer, "lan0", leakFilter)
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n == 0 {
		t.Error("unblocked, no attempt got an answer")
	}
	if got := control.Stop(t); len(got) == 0 {
		t.Error("unblocked, the capture counted no packet beyond the LAN: it would not see a leak either")
	}
}

// TestLockdown: with lockdown on and no tunnel, nothing leaves beyond the
// LAN; killing and restarting the helper keeps it so, as does
// --load-lockdown (the early-boot unit) after the table was flushed with
// no helper; lockdown off leaves the namespace as before.
func TestLockdown(t *testing.T) {
	s := startService(t)
	port := s.tp.InetAddr4.String() + ":7002"
	netns.EchoSource(t, s.tp.Inet, port)
	before := netns.Dump(t, s.tp.Client)
	c, ctx := s.client(t), context.Background()
	if err := c.SetOption(ctx, "lockdown", "on"); err != nil {
		t.Fatal(err)
	}
	if on, blocking, err := c.Lockdown(ctx); !on || !blocking || err != nil {
		t.Fatalf("Lockdown = %v, %v, %v", on, blocking, err)
	}
	leaks := netns.StartCapture(t, s.tp.Peer, "lan0", leakFilter)
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n != 0 {
		t.Errorf("lockdown: %d attempts got an answer", n)
	}
	if !pings(s.tp.Client, "192.0.2.1") {
		t.Error("lockdown with lockdown-allow-lan: the LAN does not answer")
	}
	s.proc.Signal(syscall.SIGKILL)
	s.proc.Wait(t, 20*time.Second)
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n != 0 {
		t.Errorf("lockdown, helper killed: %d attempts got an answer", n)
	}
	// No helper: another program's flush takes the orphaned table (the
	// kernel's rule); the boot unit's mode puts it back.
	netns.MustRun(t, s.tp.Client, "nft", "flush", "ruleset")
	if _, stderr, code := runHelper(t, s.tp.Client, append(append([]string{}, s.args...), "--load-lockdown")...); code != 0 {
		t.Fatalf("--load-lockdown: exit %d: %s", code, stderr)
	}
	s.start(t)
	c = s.client(t)
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n != 0 {
		t.Errorf("lockdown after restart: %d attempts got an answer", n)
	}
	if got := leaks.Stop(t); len(got) != 0 {
		t.Errorf("%d packets left beyond the LAN in lockdown:\n%s", len(got), strings.Join(got, "\n"))
	}
	if err := c.SetOption(ctx, "lockdown", "off"); err != nil {
		t.Fatal(err)
	}
	if got := netns.Dump(t, s.tp.Client); got != before {
		t.Errorf("after lockdown off the namespace differs:\n%s", netns.DumpDiff(before, got))
	}
	if src := netns.SourceSeenBy(t, s.tp.Client, port); src != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("after lockdown off: source %v, want the LAN address", src)
	}
}

// TestBlockRepairedWhileConnected: with the plain table (--nft-owner=false,
// as on a kernel without NFT_TABLE_F_PERSIST), nft flush ruleset and the
// deletion of only our table while connected are repaired within a
// second, clients get BlockRepaired, and tcpdump counts the packets that
// left beyond the LAN meanwhile. With the owner flags, the same flush
// leaves the table alone.
func TestBlockRepairedWhileConnected(t *testing.T) {
	s := startService(t, "--nft-owner=false")
	name := netns.UniqueName("wgr")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	c, ctx := s.client(t), context.Background()
	repaired := make(chan string, 10)
	s.watchRepairs(t, repaired)
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	leaks := netns.StartCapture(t, s.tp.Peer, "lan0", leakFilter)
	// Traffic all along, to be leaked if the block and the routing let it.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := netns.DialUDP(s.tp.Client, publicLooking+":9")
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			conn.Write([]byte("x"))
			time.Sleep(time.Millisecond) // a sender's pace, not a wait for an event
		}
	}()
	for _, cmd := range [][]string{{"flush", "ruleset"}, {"delete", "table", "inet", "wgtray"}} {
		// Whatever came of the last command is done with.
		for drained := false; !drained; {
			select {
			case msg := <-repaired:
				t.Logf("another BlockRepaired: %s", msg)
			default:
				drained = true
			}
		}
		start := time.Now()
		netns.MustRun(t, s.tp.Client, "nft", cmd...)
		select {
		case msg := <-repaired:
			window := time.Since(start)
			t.Logf("nft %s: BlockRepaired %v after nft returned: %s", strings.Join(cmd, " "), window.Round(time.Microsecond), msg)
			if window > time.Second {
				t.Errorf("repaired after %v, want within 1 s", window)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("nft %v: no BlockRepaired within 20 s\n%s", cmd, s.proc.Stderr())
		}
		if !strings.Contains(netns.MustRun(t, s.tp.Client, "nft", "list", "table", "inet", "wgtray"), "reject") {
			t.Errorf("after nft %v: the table is not back", cmd)
		}
	}
	close(stop)
	<-done
	got := leaks.Stop(t)
	t.Logf("packets beyond the LAN during the repairs: %d", len(got))
	if len(got) != 0 {
		t.Errorf("%d packets left beyond the LAN:\n%s", len(got), strings.Join(got, "\n"))
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestRemoveBlock is what package removal runs (prerm, %preun): with a
// kill switch kept after a crash and lockdown on, `wgtray-helper
// --remove-block` takes the block away and turns lockdown off, and the
// machine is online: a real ping beyond the LAN is answered, and the
// namespace is as before Connect.
func TestRemoveBlock(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgb")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	before := netns.Dump(t, s.tp.Client)
	c, ctx := s.client(t), context.Background()
	if err := c.SetOption(ctx, "lockdown", "on"); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	s.killAndCleanup(t)
	if pings(s.tp.Client, s.tp.InetAddr4.String()) {
		t.Fatal("blocked, yet a ping beyond the LAN is answered")
	}
	if _, stderr, code := runHelper(t, s.tp.Client, append(append([]string{}, s.args...), "--remove-block")...); code != 0 {
		t.Fatalf("--remove-block: exit %d: %s", code, stderr)
	}
	if !pings(s.tp.Client, s.tp.InetAddr4.String()) || !pings(s.tp.Client, s.tp.InetAddr6.String()) {
		t.Error("after --remove-block, a ping beyond the LAN is not answered")
	}
	if got := netns.Dump(t, s.tp.Client); got != before {
		t.Errorf("after --remove-block the namespace differs:\n%s", netns.DumpDiff(before, got))
	}
	// Lockdown is off for the next helper too.
	s.start(t)
	if on, blocking, err := s.client(t).Lockdown(ctx); on || blocking || err != nil {
		t.Errorf("after --remove-block and a restart: lockdown %v blocking %v (%v)", on, blocking, err)
	}
	if got := netns.Dump(t, s.tp.Client); got != before {
		t.Errorf("the restarted helper blocks again:\n%s", netns.DumpDiff(before, got))
	}
}

// TestAllowLANFollowsTheLAN: with a kill switch holding and allow-lan on, an
// address on a new network makes the block let that network through, and
// its removal closes it again, driven by address notifications.
func TestAllowLANFollowsTheLAN(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgl")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	c, ctx := s.client(t), context.Background()
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	table := func() string { return netns.MustRun(t, s.tp.Client, "nft", "list", "table", "inet", "wgtray") }
	if strings.Contains(table(), "198.51.100.128/25") {
		t.Fatal("the new network is allowed before it exists")
	}
	netns.IP(t, s.tp.Client, "addr add 198.51.100.130/25 dev eth0")
	netns.WaitFor(t, 20*time.Second, "the block to allow the new network", func() bool {
		return strings.Contains(table(), "ip daddr 198.51.100.128/25 accept")
	})
	netns.IP(t, s.tp.Client, "addr del 198.51.100.130/25 dev eth0")
	netns.WaitFor(t, 20*time.Second, "the block to forget the network", func() bool {
		return !strings.Contains(table(), "198.51.100.128/25")
	})
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestOwnedBlockSurvivesFlush: with the owner and persist flags (the
// default on this kernel), another program's nft flush ruleset and nft
// delete table leave the block in place while the helper runs: nothing
// to repair.
func TestOwnedBlockSurvivesFlush(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgo")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	c, ctx := s.client(t), context.Background()
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	want := netns.MustRun(t, s.tp.Client, "nft", "list", "table", "inet", "wgtray")
	if !strings.Contains(want, "flags owner") {
		t.Fatalf("the block is not owned on this kernel:\n%s", want)
	}
	netns.MustRun(t, s.tp.Client, "nft", "flush", "ruleset")
	if out, err := netns.Run(s.tp.Client, "nft", "delete", "table", "inet", "wgtray"); err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("nft delete table of the owned block: %v %s", err, out)
	}
	if got := netns.MustRun(t, s.tp.Client, "nft", "list", "table", "inet", "wgtray"); got != want {
		t.Errorf("the owned block changed:\n%s\nwant:\n%s", got, want)
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
	if out, err := netns.Run(s.tp.Client, "nft", "list", "table", "inet", "wgtray"); err == nil {
		t.Errorf("the block outlived Disconnect:\n%s", out)
	}
}

// TestKillSwitchSurvivesStop: SIGTERM (systemctl stop, a restart) takes
// the tunnel down but keeps its kill switch: nothing gets beyond the LAN
// with no helper; the next helper adopts the block, and Disconnect lifts
// it, leaving the namespace as before Connect.
func TestKillSwitchSurvivesStop(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgs")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	before := netns.Dump(t, s.tp.Client)
	c, ctx := s.client(t), context.Background()
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	s.proc.Signal(syscall.SIGTERM)
	if stderr, err := s.proc.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
	}
	if _, stderr, code := runHelper(t, s.tp.Client, append(append([]string{}, s.args...), "--cleanup")...); code != 0 {
		t.Fatalf("--cleanup: exit %d: %s", code, stderr)
	}
	if n := attempts(t, s.tp.Client, s.tp.InetAddr4.String(), s.tp.InetAddr6.String()); n != 0 {
		t.Errorf("after SIGTERM, %d attempts beyond the LAN got an answer", n)
	}
	s.start(t)
	c = s.client(t)
	if st, err := c.Status(ctx, name); err != nil || !st.Blocking {
		t.Errorf("after restart: blocking %v (%v)", st.Blocking, err)
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := netns.Dump(t, s.tp.Client); got != before {
		t.Errorf("after Disconnect:\n%s", netns.DumpDiff(before, got))
	}
}

// TestKillSwitchDNSOnlyToConfigServers: with a DNS line, port 53 goes only
// to the config's server (here through the tunnel), not to the LAN's,
// though the LAN is allowed: tcpdump on the LAN sees no DNS packet.
func TestKillSwitchDNSOnlyToConfigServers(t *testing.T) {
	s := startService(t, "--dns=off") // the block's rule, not a DNS manager
	tunDNS := netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("203.0.113.1"), map[string]netip.Addr{"ks.example": netip.MustParseAddr("198.51.100.99")})
	netns.StartDNS(t, s.tp.Peer, netip.MustParseAddr("192.0.2.1"), map[string]netip.Addr{"ks.example": netip.MustParseAddr("198.51.100.98")})
	name := netns.UniqueName("wgd")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{DNS: "203.0.113.1"}))
	c, ctx := s.client(t), context.Background()
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	lanDNS := netns.StartCapture(t, s.tp.Peer, "lan0", "port 53 and host 192.0.2.2")
	// A DNS query made by hand on a socket of the client's namespace (a
	// resolver's own goroutines would run outside it).
	lookup := func(server string) error {
		conn, err := netns.DialUDP(s.tp.Client, server+":53")
		if err != nil {
			return err
		}
		defer conn.Close()
		q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'k', 's', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
		if _, err := conn.Write(q); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		if n < 12 || buf[0] != 0x12 || buf[1] != 0x34 || buf[3]&0x0f != 0 || buf[7] == 0 {
			return fmt.Errorf("bad answer % x", buf[:n])
		}
		return nil
	}
	if err := lookup("203.0.113.1"); err != nil {
		t.Errorf("DNS to the config's server: %v", err)
	}
	tunDNS.WaitQuery(t, "ks.example", s.tp.ClientTunnel4)
	if err := lookup("192.0.2.1"); err == nil {
		t.Error("DNS to the LAN's server was answered")
	}
	if !pings(s.tp.Client, "192.0.2.1") {
		t.Error("the LAN itself is blocked")
	}
	if got := lanDNS.Stop(t); len(got) != 0 {
		t.Errorf("%d DNS packets on the LAN:\n%s", len(got), strings.Join(got, "\n"))
	}
	if err := c.Disconnect(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestDisconnectLiftsBlockOfDeletedConfig: a kill switch kept after a
// crash whose config was deleted by hand since is still lifted by
// Disconnect (not refused with NotFound).
func TestDisconnectLiftsBlockOfDeletedConfig(t *testing.T) {
	s := startService(t)
	name := netns.UniqueName("wgx")
	s.writeConf(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	before := netns.Dump(t, s.tp.Client)
	c, ctx := s.client(t), context.Background()
	if err := c.Connect(ctx, name); err != nil {
		t.Fatal(err)
	}
	s.killAndCleanup(t)
	if err := os.Remove(filepath.Join(s.configDir, name+".conf")); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	if err := s.client(t).Disconnect(ctx, name); err != nil {
		t.Fatalf("Disconnect of a kept block without its config: %v", err)
	}
	if got := netns.Dump(t, s.tp.Client); got != before {
		t.Errorf("after Disconnect:\n%s", netns.DumpDiff(before, got))
	}
}
