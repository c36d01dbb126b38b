package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// WriteConf writes text to dir/IFACE.conf with mode 0600, as wg-quick
// wants it, and returns the path. wg-quick names the interface after the
// file, so iface should come from UniqueName when the file is for
// WgQuick.
func WriteConf(tb testing.TB, dir, iface, text string) string {
	tb.Helper()
	path := filepath.Join(dir, iface+".conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// WgQuick runs Debian's `wg-quick ACTION CONF` inside namespace ns and
// returns its output; it fails the test if wg-quick fails. CONF must be
// …/IFACE.conf with mode 0600 (see WriteConf). There is no kernel
// WireGuard here, so wg-quick falls back to the userspace wireguard-go,
// which daemonizes.
//
// After "down" it waits until the interface, its socket and its
// wireguard-go are gone, so that the test can compare the namespace with
// its state before "up". When the test ends, any wireguard-go still
// serving IFACE is stopped and its socket removed, also if the test
// failed between up and down.
func WgQuick(tb testing.TB, ns, action, conf string) string {
	tb.Helper()
	iface := strings.TrimSuffix(filepath.Base(conf), ".conf")
	if !strings.HasSuffix(conf, ".conf") || iface == "" || len(iface) > 15 {
		tb.Fatalf("wg-quick config %s: want …/IFACE.conf with an interface name of 1-15 bytes", conf)
	}
	if fi, err := os.Stat(conf); err != nil {
		tb.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		tb.Fatalf("wg-quick config %s has mode %v, want 0600", conf, fi.Mode().Perm())
	}
	trackIface(tb, iface)
	out, err := runWgQuick(ns, action, conf)
	if err != nil {
		tb.Fatalf("in %s: wg-quick %s %s: %v\n%s", ns, action, conf, err, out)
	}
	if action == "down" {
		waitDown(tb, ns, iface)
	}
	return out
}

// WgQuickFails runs `wg-quick up CONF` as WgQuick does, for a config
// whose up is meant to fail: it fails the test if wg-quick succeeds, and
// waits, as after a down, until wg-quick's trap has removed what it made.
func WgQuickFails(tb testing.TB, ns, conf string) string {
	tb.Helper()
	iface := strings.TrimSuffix(filepath.Base(conf), ".conf")
	trackIface(tb, iface)
	out, err := runWgQuick(ns, "up", conf)
	if err == nil {
		tb.Fatalf("in %s: wg-quick up %s succeeded, want it to fail:\n%s", ns, conf, out)
	}
	waitDown(tb, ns, iface)
	return out
}

func runWgQuick(ns, action, conf string) (string, error) {
	// The daemonized wireguard-go keeps our stdout, and so makes us wait
	// for it, if LOG_LEVEL is set; and with WG_PROCESS_FOREGROUND it would
	// not daemonize at all. Neither may leak in from the test's env.
	out, err := exec.Command("ip", "netns", "exec", ns, "env", "-u", "LOG_LEVEL", "-u", "WG_PROCESS_FOREGROUND",
		"WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go", "wg-quick", action, conf).CombinedOutput()
	return string(out), err
}

// waitDown waits until iface is gone from ns, wireguard-go has removed
// its socket and exited. wg-quick deletes the link and returns; the
// daemon notices and shuts down on its own time.
func waitDown(tb testing.TB, ns, iface string) {
	tb.Helper()
	if _, err := exec.Command("ip", "-n", ns, "link", "show", "dev", iface).CombinedOutput(); err == nil {
		tb.Fatalf("in %s: wg-quick down left interface %s", ns, iface)
	}
	sock := uapisock.Path(iface)
	WaitFor(tb, 10*time.Second, "wireguard-go to remove "+sock, func() bool {
		_, err := os.Stat(sock)
		return os.IsNotExist(err)
	})
	if left := waitGone(wireguardGoPids(iface), 10*time.Second); len(left) > 0 {
		tb.Fatalf("wireguard-go for %s still runs after wg-quick down: pids %v", iface, left)
	}
}
