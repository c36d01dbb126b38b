package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
)

// TestPowerCutRestoresResolvConf: `wgtray-helper up` of a tunnel with DNS
// over the resolv.conf fallback, in a private /etc; the power goes (the
// helper dies, /run and the journals with it, the --lib-dir copy stays);
// the next start, here `--cleanup`, puts the original back byte for byte
// and removes the copy.
func TestPowerCutRestoresResolvConf(t *testing.T) {
	netns.RequireRoot(t)
	tp := netns.New(t)
	fs := privatefs.New(t)
	orig := "# the LAN's\nnameserver 192.0.2.53\n"
	if err := os.WriteFile(fs.Path("resolv.conf"), []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	iface := netns.UniqueName("wgp")
	confDir, journals, lib := t.TempDir(), t.TempDir(), t.TempDir()
	netns.WriteConf(t, confDir, iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32", AllowedIPs: "198.51.100.0/24", DNS: "203.0.113.1, corp.example",
	}))
	flags := []string{"--config-dir", confDir, "--journal-dir", journals, "--lib-dir", lib, "--dns=resolv.conf", "--wireguard=userspace"}
	env := append([]string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/wgtray-test-bus"}, helperEnv...)

	p := netns.StartProc(t, tp.Client, env, fs.Argv(helperArgv(t, append(flags, "up", iface)...)...)...)
	p.WaitLine(t, iface+" is up", 20*time.Second)
	p.Signal(syscall.SIGKILL)
	p.Wait(t, 20*time.Second)
	if b, _ := os.ReadFile(fs.Path("resolv.conf")); !strings.Contains(string(b), "nameserver 203.0.113.1\n") {
		t.Fatalf("resolv.conf while up: %q", b)
	}
	copyPath := filepath.Join(lib, "resolv.conf.json")
	if fi, err := os.Lstat(copyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the durable copy: %v (%v)", fi, err)
	}
	// The power cut: /run is empty after the boot.
	if err := os.RemoveAll(journals); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(journals, 0o700); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("ip", append([]string{"netns", "exec", tp.Client}, fs.Argv(helperArgv(t, append(flags, "--cleanup")...)...)...)...)
	cmd.Env = append(os.Environ(), env...)
	if _, stderr, code := runCmd(t, cmd); code != 0 {
		t.Fatalf("--cleanup exit %d: %s", code, stderr)
	} else {
		t.Logf("--cleanup said: %s", stderr)
	}
	fi, err := os.Lstat(fs.Path("resolv.conf"))
	if b, _ := os.ReadFile(fs.Path("resolv.conf")); err != nil || string(b) != orig || fi.Mode().Perm() != 0o640 {
		t.Errorf("resolv.conf after the restart: %q (mode %v, %v), want %q (mode 0640)", b, fi.Mode(), err, orig)
	}
	if _, err := os.Lstat(copyPath); !os.IsNotExist(err) {
		t.Errorf("the durable copy is still there: %v", err)
	}
}
