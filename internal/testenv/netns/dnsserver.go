package netns

import (
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"
)

// DNSServer is dnsmasq answering a few names and logging every query.
type DNSServer struct{ proc *Proc }

// StartDNS runs dnsmasq (Debian's dnsmasq-base) in ns on listen:53. It
// answers each name in names with its address, refuses to recurse, and
// logs each query with its source address, which is how a test sees where
// a query came from. It stops when the test ends.
func StartDNS(tb testing.TB, ns string, listen netip.Addr, names map[string]netip.Addr) *DNSServer {
	tb.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		tb.Fatal("dnsmasq not found: install Debian's dnsmasq-base (make deps)")
	}
	args := []string{bin, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address=" + listen.String(), "--port=53", "--user=root",
		"--pid-file=", "--log-queries", "--log-facility=-"}
	for name, a := range names {
		args = append(args, fmt.Sprintf("--address=/%s/%s", name, a))
	}
	// dnsmasq logs to stderr; Proc collects stdout lines.
	p := StartProc(tb, ns, nil, append([]string{"/bin/sh", "-c", `exec "$@" 2>&1`, "sh"}, args...)...)
	p.WaitLine(tb, "started", 20*time.Second)
	return &DNSServer{proc: p}
}

// WaitQuery waits until the server has logged a query for name from
// source, and returns the log line.
func (d *DNSServer) WaitQuery(tb testing.TB, name string, source netip.Addr) string {
	tb.Helper()
	return d.proc.WaitLine(tb, fmt.Sprintf("%s from %s", name, source), 20*time.Second)
}

// Stop stops the server (to start another with other answers).
func (d *DNSServer) Stop(tb testing.TB) {
	tb.Helper()
	d.proc.Kill()
	d.proc.Wait(tb, 10*time.Second)
}
