package testnet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// WriteConf writes text to dir/IFACE.conf with mode 0600, as wg-quick
// wants it, and returns the path.
func WriteConf(tb testing.TB, dir, iface, text string) string {
	tb.Helper()
	path := filepath.Join(dir, iface+".conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// WgQuick runs Debian's wg-quick ACTION CONF inside namespace ns with the
// userspace wireguard-go, and returns its output. After "down" it waits
// until wireguard-go has exited and removed its socket, so that the
// interface name can be used again.
func WgQuick(tb testing.TB, ns, action, conf string) string {
	tb.Helper()
	iface := strings.TrimSuffix(filepath.Base(conf), ".conf")
	sock := filepath.Join("/var/run/wireguard", iface+".sock")
	if action == "up" {
		tb.Cleanup(func() {
			// Whatever happened, leave no wireguard-go behind.
			exec.Command("pkill", "-f", "wireguard-go "+iface+"$").Run()
			os.Remove(sock)
		})
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "wg-quick", action, conf)
	cmd.Env = append(os.Environ(), "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("wg-quick %s %s: %v\n%s", action, conf, err, out)
	}
	if action == "down" {
		WaitFor(tb, 10*time.Second, "wireguard-go to remove "+sock, func() bool {
			_, err := os.Stat(sock)
			return os.IsNotExist(err)
		})
	}
	return string(out)
}
