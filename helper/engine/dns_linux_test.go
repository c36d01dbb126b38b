package engine

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/dns"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/testenv/debpkg"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
)

// testName is a name only the DNS server behind the tunnel knows.
const testName = "wgtray-test.example"

var testNameAddr = netip.MustParseAddr("198.51.100.77")

// dnsSetup is a topology with a DNS server on the peer's tunnel address
// and a private /etc for the client's processes.
type dnsSetup struct {
	tp   *netns.Topology
	srv  *netns.DNSServer
	fs   *privatefs.FS
	conf string
}

func newDNSSetup(t *testing.T, dnsLine string) *dnsSetup {
	t.Helper()
	netns.RequireRoot(t)
	tp := netns.New(t)
	s := &dnsSetup{tp: tp, fs: privatefs.New(t)}
	s.srv = netns.StartDNS(t, tp.Peer, netip.MustParseAddr("203.0.113.1"), map[string]netip.Addr{testName: testNameAddr})
	iface := netns.UniqueName("wgd")
	s.conf = netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0", DNS: dnsLine,
	}))
	return s
}

// env is a child's environment: the DNS manager, and a system bus that
// does not exist unless the test gives one, so that nothing can reach
// the machine's own systemd-resolved.
func dnsEnv(manager string, extra ...string) []string {
	env := []string{"WGTRAY_DNS=" + manager, "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/wgtray-test-bus"}
	return append(env, extra...)
}

// hold starts a child holding the tunnel up in the private view.
func (s *dnsSetup) hold(t *testing.T, state string, env []string) *tunnel {
	t.Helper()
	return upArgv(t, s.tp.Client, s.fs.Argv(childArgv(t)...), childEnv("hold", s.conf, state, "userspace", env...))
}

// resolve looks testName up with the C library, as any program would, in
// the namespaces of the child holding the tunnel.
func (s *dnsSetup) resolve(t *testing.T, tn *tunnel) (string, error) {
	t.Helper()
	pid := tn.proc.Cmd.Process.Pid
	out, err := exec.Command("nsenter", "--target", strconv.Itoa(pid), "--mount", "--net", "--",
		"getent", "ahostsv4", testName).CombinedOutput()
	return string(out), err
}

// etcState reads a file of the private /etc as the child sees it.
func (s *dnsSetup) etcState(t *testing.T, name string) plan.FileState {
	t.Helper()
	st, err := dns.ReadFileState(s.fs.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDNSResolvConfFile: with nothing managing DNS, the helper writes
// /etc/resolv.conf itself — replacing a regular file or a symbolic link —
// names resolve through the tunnel while it is up, and the original comes
// back byte for byte (link for link) when it goes down.
func TestDNSResolvConfFile(t *testing.T) {
	for _, orig := range []string{"file", "symlink"} {
		t.Run(orig, func(t *testing.T) {
			s := newDNSSetup(t, "203.0.113.1, corp.example")
			writeOriginal(t, s.fs, orig)
			before := s.etcState(t, "resolv.conf")
			tn := s.hold(t, t.TempDir(), dnsEnv(plan.DNSFile))

			now := s.etcState(t, "resolv.conf")
			if now.Symlink != "" || !strings.Contains(string(now.Data), "nameserver 203.0.113.1\n") ||
				!strings.Contains(string(now.Data), "search corp.example\n") {
				t.Errorf("resolv.conf while up is %s:\n%s", now, now.Data)
			}
			out, err := s.resolve(t, tn)
			if err != nil || !strings.Contains(out, testNameAddr.String()) {
				t.Errorf("resolving %s while up: %v: %s", testName, err, out)
			}
			t.Logf("resolv.conf while up:\n%s\ngetent: %s\nserver: %s", now.Data, out, s.srv.WaitQuery(t, testName, s.tp.ClientTunnel4))

			tn.down(t)
			after := s.etcState(t, "resolv.conf")
			if !after.Same(before) || after.Mode != before.Mode {
				t.Errorf("resolv.conf after down is %s (mode %o), want %s (mode %o)", after, after.Mode, before, before.Mode)
			}
			if orig == "symlink" {
				if st := s.etcState(t, "stub-resolv.conf"); string(st.Data) != stubData {
					t.Errorf("the link's target was changed: %q", st.Data)
				}
			}
		})
	}
}

const stubData = "# a stub, as systemd-resolved writes\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"

// writeOriginal puts the machine's "original" resolv.conf in the private
// /etc: a regular file with an unusual mode, or a relative link.
func writeOriginal(t *testing.T, fs *privatefs.FS, kind string) {
	t.Helper()
	switch kind {
	case "file":
		if err := os.WriteFile(fs.Path("resolv.conf"), []byte("# the LAN's\nnameserver 192.0.2.53\noptions timeout:1\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	case "symlink":
		if err := os.WriteFile(fs.Path("stub-resolv.conf"), []byte(stubData), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("stub-resolv.conf", fs.Path("resolv.conf")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDNSCrashCleanup kills the process holding a tunnel whose DNS it
// wrote into /etc/resolv.conf; cleanup from the journal puts the original
// back byte for byte.
func TestDNSCrashCleanup(t *testing.T) {
	s := newDNSSetup(t, "203.0.113.1")
	writeOriginal(t, s.fs, "file")
	before := s.etcState(t, "resolv.conf")
	state := t.TempDir()
	tn := s.hold(t, state, dnsEnv(plan.DNSFile))
	tn.proc.Kill()
	tn.proc.Wait(t, waitUp)
	if now := s.etcState(t, "resolv.conf"); now.Same(before) {
		t.Fatal("resolv.conf was restored without cleanup; the test proves nothing")
	}
	if out := s.runChild(t, childEnv("cleanup", "", state, "userspace", dnsEnv(plan.DNSFile)...)); !strings.Contains(out, "cleaned") {
		t.Fatalf("cleanup said %q", out)
	}
	if after := s.etcState(t, "resolv.conf"); !after.Same(before) || after.Mode != before.Mode {
		t.Errorf("resolv.conf after cleanup is %s (mode %o), want %s (mode %o)", after, after.Mode, before, before.Mode)
	}
}

// runChild runs a short-lived child role in the client namespace and the
// private view.
func (s *dnsSetup) runChild(t *testing.T, env []string) string {
	t.Helper()
	return runChildIn(t, s.tp.Client, s.fs, env)
}

// TestDNSResolvconf: with openresolv installed (here only inside the
// private view), the tunnel's servers are registered under its interface
// name, exclusively, as wg-quick does; down deletes the record and
// openresolv writes back the file it had before.
func TestDNSResolvconf(t *testing.T) {
	s := newDNSSetup(t, "203.0.113.1, corp.example")
	s.fs.Usr = debpkg.Unpacked(t, "openresolv")
	conf := "resolv_conf=/etc/resolv.conf\nstate_dir=/etc/wgtray-test-resolvconf\n"
	if err := os.WriteFile(s.fs.Path("resolvconf.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The LAN's server, as a DHCP client would have registered it.
	s.inView(t, "nameserver 192.0.2.53\n", "resolvconf", "-a", "eth0")
	before := s.etcState(t, "resolv.conf")
	if !strings.Contains(string(before.Data), "nameserver 192.0.2.53") {
		t.Fatalf("openresolv did not write the LAN's server: %s", before.Data)
	}
	tn := s.hold(t, t.TempDir(), dnsEnv(plan.DNSResolvconf))
	now := s.etcState(t, "resolv.conf")
	if !strings.Contains(string(now.Data), "nameserver 203.0.113.1") || strings.Contains(string(now.Data), "192.0.2.53") {
		t.Errorf("resolv.conf while up should name only the tunnel's server:\n%s", now.Data)
	}
	out, err := s.resolve(t, tn)
	if err != nil || !strings.Contains(out, testNameAddr.String()) {
		t.Errorf("resolving %s while up: %v: %s", testName, err, out)
	}
	s.srv.WaitQuery(t, testName, s.tp.ClientTunnel4)
	tn.down(t)
	if after := s.etcState(t, "resolv.conf"); !after.Same(before) {
		t.Errorf("resolv.conf after down:\n%s\nwant:\n%s", after.Data, before.Data)
	}
}

// inView runs a command with stdin in the client namespace and the
// private view, and fails the test if it fails.
func (s *dnsSetup) inView(t *testing.T, stdin string, argv ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", s.tp.Client}, s.fs.Argv(argv...)...)...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v: %s", argv, err, out)
	}
	return string(out)
}

// TestDNSResolvConfMountPoint: where /etc/resolv.conf is a mount point
// (a container's, or the one writable file systemd leaves in a read-only
// /etc) it cannot be replaced; the helper rewrites it in place instead,
// and restores its bytes on down.
func TestDNSResolvConfMountPoint(t *testing.T) {
	s := newDNSSetup(t, "203.0.113.1")
	src := filepath.Join(t.TempDir(), "resolv.conf")
	orig := "# bind-mounted\nnameserver 192.0.2.53\n"
	if err := os.WriteFile(src, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	// The child mounts the file over /etc/resolv.conf in its view, then
	// makes /etc read-only, as ProtectSystem=strict would.
	script := `set -e; mount --bind "$1" /etc/resolv.conf; mount -o remount,bind,ro /etc; shift; exec "$@"`
	argv := s.fs.Argv(append([]string{"/bin/sh", "-c", script, "sh", src}, childArgv(t)...)...)
	tn := upArgv(t, s.tp.Client, argv, childEnv("hold", s.conf, t.TempDir(), "userspace", dnsEnv(plan.DNSFile)...))
	if b, _ := os.ReadFile(src); !strings.Contains(string(b), "nameserver 203.0.113.1") {
		t.Errorf("resolv.conf while up: %q", b)
	}
	out, err := s.resolve(t, tn)
	if err != nil || !strings.Contains(out, testNameAddr.String()) {
		t.Errorf("resolving %s while up: %v: %s", testName, err, out)
	}
	tn.down(t)
	if b, _ := os.ReadFile(src); string(b) != orig {
		t.Errorf("resolv.conf after down: %q, want %q", b, orig)
	}
}

// TestDNSRollbackEveryStep fails each step of bringing up a full tunnel
// with DNS in turn, before and after the change: every time, the
// namespace and resolv.conf are as they were.
func TestDNSRollbackEveryStep(t *testing.T) {
	s := newDNSSetup(t, "203.0.113.1, corp.example")
	writeOriginal(t, s.fs, "symlink")
	before := s.etcState(t, "resolv.conf")
	dump := netns.Dump(t, s.tp.Client)
	for _, after := range []string{"0", "1"} {
		sawDNS := false
		for k := 0; ; k++ {
			state := t.TempDir()
			out := s.runChild(t, childEnv("fail", s.conf, state, "userspace",
				dnsEnv(plan.DNSFile, fmt.Sprintf("WGTRAY_FAIL=%d", k), "WGTRAY_FAIL_AFTER="+after)...))
			if strings.HasPrefix(out, "completed") {
				break
			}
			if !strings.Contains(out, fmt.Sprintf("failed step=%d rollback=true", k)) {
				t.Fatalf("fail at %d (after=%s): child said %q", k, after, out)
			}
			if now := s.etcState(t, "resolv.conf"); !now.Same(before) {
				t.Fatalf("fail at step %d (after=%s) left resolv.conf %s", k, after, now)
			}
			if d := netns.Dump(t, s.tp.Client); d != dump {
				t.Fatalf("fail at step %d (after=%s) left changes:\n%s", k, after, netns.DumpDiff(dump, d))
			}
			sawDNS = sawDNS || strings.Contains(out, "op=dns set")
		}
		if !sawDNS {
			t.Errorf("the DNS step was never failed (after=%s)", after)
		}
	}
}
