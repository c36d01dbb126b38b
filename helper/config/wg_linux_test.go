package config_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestStripAcceptedByWg checks the parser against the reference: every
// seed config, stripped of wg-quick's keys, is accepted by Debian's
// `wg setconf` on a real (userspace) WireGuard interface, and what wg then
// reports with `wg showconf` parses back to the same settings.
func TestStripAcceptedByWg(t *testing.T) {
	netns.RequireRootFor(t, "this test creates network namespaces and WireGuard interfaces")
	for _, tool := range []string{"wg", "wireguard-go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (Debian packages wireguard-tools and wireguard-go)", tool)
		}
	}
	paths, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(paths) == 0 {
		t.Fatal("no seed configs in testdata")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			stripped := filepath.Join(t.TempDir(), "stripped.conf")
			if err := os.WriteFile(stripped, []byte(cfg.WGQuickStrip()), 0o600); err != nil {
				t.Fatal(err)
			}
			ns := netns.NewNS(t)
			iface := netns.UniqueName("wgc")
			startWireguardGo(t, ns, iface)
			if out, err := netns.Run(ns, "wg", "setconf", iface, stripped); err != nil {
				t.Fatalf("wg setconf rejected the stripped config: %v\n%s\n%s", err, out, cfg.WGQuickStrip())
			}
			shown := netns.MustRun(t, ns, "wg", "showconf", iface)
			got, err := config.Parse([]byte(shown))
			if err != nil {
				t.Fatalf("wg showconf output does not parse: %v", err)
			}
			want := wgView(cfg)
			if want.Interface.ListenPort == nil || *want.Interface.ListenPort == 0 {
				// wireguard-go picked a random port.
				got.Interface.ListenPort = want.Interface.ListenPort
			}
			opts := []cmp.Option{
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
				cmpopts.IgnoreFields(config.Peer{}, "Line"),
			}
			if diff := cmp.Diff(want, wgView(got), opts...); diff != "" {
				t.Errorf("wg holds other settings than the config (-config +wg):\n%s", diff)
			}
		})
	}
}

// startWireguardGo runs Debian's userspace WireGuard for iface in ns,
// waits until it serves its control socket, and stops it when the test
// ends. Interface names must be unique because every namespace shares
// /var/run/wireguard.
func startWireguardGo(t *testing.T, ns, iface string) {
	t.Helper()
	p := netns.StartProc(t, ns, []string{"LOG_LEVEL=error", "WG_PROCESS_FOREGROUND=1"}, "wireguard-go", "-f", iface)
	sock := filepath.Join("/var/run/wireguard", iface+".sock")
	t.Cleanup(func() {
		p.Kill()
		p.Wait(t, 10*time.Second)
		// Killed, wireguard-go cannot remove its socket itself.
		os.Remove(sock)
	})
	// A readiness wait, not a sleep: the socket appears when it is ready.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sock); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wireguard-go made no socket %s within 10s; stderr: %s", sock, p.Stderr())
		}
		<-tick.C
	}
}

// wgView is the part of a config that wg(8) holds and shows, in the form
// `wg showconf` prints it: an FwMark of 0 and an all-zero preshared key
// are not shown, the private key is clamped, and peers and their AllowedIPs come sorted.
func wgView(c *config.Config) *config.Config {
	in := c.Interface
	// WireGuard clamps a private key as Curve25519 wants it, as `wg genkey`
	// already does; a hand-made key comes back clamped.
	priv := in.PrivateKey
	priv[0] &= 248
	priv[31] = priv[31]&127 | 64
	v := &config.Config{Interface: config.Interface{PrivateKey: priv, ListenPort: in.ListenPort}}
	if in.FwMark != nil && *in.FwMark != 0 {
		v.Interface.FwMark = in.FwMark
	}
	for _, p := range c.Peers {
		if p.PresharedKey != nil && *p.PresharedKey == (wgtypes.Key{}) {
			p.PresharedKey = nil
		}
		p.AllowedIPs = slices.Clone(p.AllowedIPs)
		slices.SortFunc(p.AllowedIPs, func(a, b netip.Prefix) int {
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c
			}
			return a.Bits() - b.Bits()
		})
		v.Peers = append(v.Peers, p)
	}
	slices.SortFunc(v.Peers, func(a, b config.Peer) int { return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return v
}
