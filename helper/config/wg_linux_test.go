package config_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/testnet"
)

// TestStripAcceptedByWg checks the parser against the reference: every
// seed config, stripped of wg-quick's keys, is accepted by Debian's
// `wg setconf` on a real (userspace) WireGuard interface.
func TestStripAcceptedByWg(t *testing.T) {
	testnet.RequireRoot(t)
	for _, tool := range []string{"wg", "wireguard-go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (sudo make test installs it)", tool)
		}
	}
	paths, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(paths) == 0 {
		t.Fatal("no seed configs")
	}
	ns := testnet.NewNS(t)
	iface := testnet.UniqueName("wgf")
	testnet.StartWireguardGo(t, ns, iface)
	dir := t.TempDir()
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			stripped := filepath.Join(dir, "stripped.conf")
			if err := os.WriteFile(stripped, []byte(cfg.WGQuickStrip()), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := testnet.Run(ns, "wg", "setconf", iface, stripped); err != nil {
				t.Errorf("wg setconf rejected the stripped config: %v", err)
			}
		})
	}
}
