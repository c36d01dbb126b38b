package wgdev

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestUAPISetMatchesWgctrl: what Configure hands an embedded device
// directly is, line for line, what wgctrl would send it over its socket.
// wgctrl is the oracle: a socket in /var/run/wireguard stands in for the
// device and records the request.
func TestUAPISetMatchesWgctrl(t *testing.T) {
	netns.RequireRoot(t)
	key := func() wgtypes.Key {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	priv, psk := key(), key()
	port, mark := 51821, 0xca6c
	keep := 25 * time.Second
	cfgs := []wgtypes.Config{
		{PrivateKey: &priv, ListenPort: &port, FirewallMark: &mark, ReplacePeers: true, Peers: []wgtypes.PeerConfig{
			{PublicKey: key().PublicKey(), PresharedKey: &psk, Endpoint: &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 51820},
				PersistentKeepaliveInterval: &keep, ReplaceAllowedIPs: true, AllowedIPs: []net.IPNet{
					{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, {IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}},
			{PublicKey: key().PublicKey(), Endpoint: &net.UDPAddr{IP: net.ParseIP("2001:db8:1::1"), Port: 51820},
				AllowedIPs: []net.IPNet{{IP: net.ParseIP("203.0.113.0").To4(), Mask: net.CIDRMask(24, 32)}}},
		}},
		{PrivateKey: &priv},
	}
	name := netns.UniqueName("wgu")
	sock := filepath.Join("/var/run/wireguard", name+".sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); os.Remove(sock) })
	got := make(chan string, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			var req strings.Builder
			for {
				line, err := r.ReadString('\n')
				if err != nil || line == "\n" {
					break
				}
				req.WriteString(line)
			}
			c.Write([]byte("errno=0\n\n"))
			c.Close()
			got <- req.String()
		}
	}()
	client, err := wgctrl.New()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for i, cfg := range cfgs {
		if err := client.ConfigureDevice(name, cfg); err != nil {
			t.Fatalf("config %d: wgctrl: %v", i, err)
		}
		var want string
		select {
		case want = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("wgctrl sent nothing")
		}
		if want = strings.TrimPrefix(want, "set=1\n"); uapiSet(cfg) != want {
			// Both hold keys: say only that they differ, and where.
			g, w := strings.Split(uapiSet(cfg), "\n"), strings.Split(want, "\n")
			for j := range min(len(g), len(w)) {
				if g[j] != w[j] {
					k, _, _ := strings.Cut(w[j], "=")
					t.Errorf("config %d: line %d (%s) differs from wgctrl's", i, j+1, k)
					break
				}
			}
			if len(g) != len(w) {
				t.Errorf("config %d: %d lines, wgctrl sends %d", i, len(g), len(w))
			}
		}
	}
}
