package engine

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
)

// beyondLAN matches what the client sends beyond its LAN (see package
// helper's killswitch_test.go).
const beyondLAN = "(src host 192.0.2.2 and not dst net 192.0.2.0/24 and not dst host 255.255.255.255 and not dst net 224.0.0.0/4)" +
	" or (src host 2001:db8:1::2 and not dst net 2001:db8:1::/64 and not dst net ff00::/8)"

// TestFollowEndpointThroughBlock: a tunnel with the kill switch (allow-lan
// off) whose endpoint is a name; the name's address changes on the test's
// DNS server; FollowEndpoints resolves it again — its query gets through
// the block by its mark, where an unmarked one does not — and the block
// and the device move to the new address: the tunnel's UDP goes there,
// the table allows it and no longer the old one, and nothing leaves
// beyond the LAN.
func TestFollowEndpointThroughBlock(t *testing.T) {
	netns.RequireRoot(t)
	tp := netns.New(t)
	// The peer answers on a second LAN address too: where the name moves.
	netns.IP(t, tp.Peer, "addr add 192.0.2.11/24 dev lan0")
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeHosts := func(addr string) {
		if err := os.WriteFile(hosts, []byte(addr+" vpn.test\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeHosts("192.0.2.1")
	dns := netns.StartProc(t, tp.Peer, nil, "/bin/sh", "-c", `exec "$@" 2>&1`, "sh", "dnsmasq", "--keep-in-foreground",
		"--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--addn-hosts="+hosts, "--bind-interfaces",
		"--listen-address=192.0.2.1", "--port=53", "--user=root", "--pid-file=", "--log-queries", "--log-facility=-")
	dns.WaitLine(t, "started", 20*time.Second)
	fs := privatefs.New(t)
	if err := os.WriteFile(fs.Path("resolv.conf"), []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := netns.UniqueName("wgn")
	conf := tp.ClientConfig(netns.ClientOpts{})
	conf = strings.Replace(conf, "Endpoint = "+tp.PeerEndpoint4.String(), "Endpoint = vpn.test:51820", 1)
	path := netns.WriteConf(t, t.TempDir(), name, conf)
	state := t.TempDir()
	sc := startScript(t, tp.Client, fs.Argv(childArgv(t)...), childEnv("script", "", state, "userspace", "WGTRAY_DNS=off"))
	sc.must(t, "upks "+path)
	table := netns.MustRun(t, tp.Client, "nft", "list", "table", "inet", "wgtray")
	if !strings.Contains(table, "ip daddr 192.0.2.1 udp dport 51820 accept") {
		t.Fatalf("the block does not let the endpoint through:\n%s", table)
	}
	// The block is on: an unmarked DNS query to the LAN's server fails.
	if c, err := netns.DialUDP(tp.Client, "192.0.2.1:53"); err == nil {
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, rerr := c.Read(make([]byte, 4))
		c.Close()
		// icmpx admin-prohibited reaches the socket as EHOSTUNREACH.
		if rerr == nil || !strings.Contains(rerr.Error(), "no route to host") {
			t.Errorf("an unmarked DNS query: %v, want it rejected", rerr)
		}
	}

	leaks := netns.StartCapture(t, tp.Peer, "lan0", beyondLAN)
	toNew := netns.StartCapture(t, tp.Peer, "lan0", "src host 192.0.2.2 and dst host 192.0.2.11 and udp dst port 51820")
	writeHosts("192.0.2.11")
	dns.Signal(syscall.SIGHUP)
	dns.WaitLine(t, "read "+hosts, 20*time.Second)
	mark := len(dns.Lines())
	sc.must(t, "follow "+path)
	dns.WaitLineFrom(t, mark, "vpn.test from 192.0.2.2", 20*time.Second)
	table = netns.MustRun(t, tp.Client, "nft", "list", "table", "inet", "wgtray")
	if !strings.Contains(table, "ip daddr 192.0.2.11 udp dport 51820 accept") || strings.Contains(table, "ip daddr 192.0.2.1 udp dport 51820 accept") {
		t.Errorf("the block did not follow the endpoint:\n%s", table)
	}
	// The tunnel carries traffic to the new endpoint.
	port := tp.InetAddr4.String() + ":7003"
	netns.EchoSource(t, tp.Inet, port)
	if src := netns.SourceSeenBy(t, tp.Client, port); src != tp.ClientTunnel4 {
		t.Errorf("after the move, traffic left with source %v", src)
	}
	toNew.WaitPacket(t, "192.0.2.11.51820", 20*time.Second)
	if got := leaks.Stop(t); len(got) != 0 {
		t.Errorf("%d packets left beyond the LAN while the endpoint moved:\n%s", len(got), strings.Join(got, "\n"))
	}
	sc.must(t, "down "+name)
	if out, err := netns.Run(tp.Client, "nft", "list", "table", "inet", "wgtray"); err == nil {
		t.Errorf("the block outlived Down:\n%s", out)
	}
}
