package netns

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Do runs fn on a thread in namespace ns; sockets it opens stay there.
func Do(ns string, fn func() error) error { return inNS(ns, fn) }

// Capture is Debian's tcpdump counting the packets that match a filter on
// one interface of a namespace: how a test shows that nothing leaks.
type Capture struct {
	proc *Proc
	from int // lines before the first packet: tcpdump's banner
}

// StartCapture runs tcpdump on iface in ns with the pcap filter and
// waits until it listens. It stops when the test ends.
func StartCapture(tb testing.TB, ns, iface, filter string) *Capture {
	tb.Helper()
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		tb.Fatal("tcpdump not found: install Debian's tcpdump (make deps)")
	}
	// -l: a line a packet, at once; -n: no lookups; -p: no promiscuous
	// mode, which a veth does not need; stderr (the banner) joins stdout.
	p := StartProc(tb, ns, nil, "/bin/sh", "-c", `exec "$@" 2>&1`, "sh", bin, "-i", iface, "-n", "-l", "-p", "--immediate-mode", filter)
	p.WaitLine(tb, "listening on", 20*time.Second)
	return &Capture{proc: p, from: len(p.Lines())}
}

// Packets returns the packets seen so far, one line each.
func (c *Capture) Packets() []string {
	var out []string
	for _, l := range c.proc.Lines()[c.from:] {
		if strings.Contains(l, " IP ") || strings.Contains(l, " IP6 ") || strings.Contains(l, " ARP") {
			out = append(out, l)
		}
	}
	return out
}

// WaitPacket waits until a packet line containing substr is seen.
func (c *Capture) WaitPacket(tb testing.TB, substr string, timeout time.Duration) string {
	tb.Helper()
	return c.proc.WaitLineFrom(tb, c.from, substr, timeout)
}

// Mark returns a position in the capture, for WaitPacketAfter.
func (c *Capture) Mark() int { return len(c.proc.Lines()) }

// WaitPacketAfter is WaitPacket for packets seen after mark.
func (c *Capture) WaitPacketAfter(tb testing.TB, mark int, substr string, timeout time.Duration) string {
	tb.Helper()
	return c.proc.WaitLineFrom(tb, mark, substr, timeout)
}

// Stop ends tcpdump, once every packet it saw is printed, and returns
// them: tcpdump prints "N packets captured" last, after its last packet.
func (c *Capture) Stop(tb testing.TB) []string {
	tb.Helper()
	c.proc.Signal(syscall.SIGINT)
	c.proc.WaitLineFrom(tb, c.from, "packets captured", 20*time.Second)
	c.proc.Wait(tb, 20*time.Second)
	return c.Packets()
}

// AddLANHost puts a fourth namespace on the client's LAN: the peer's
// lan0 goes into a bridge, which takes its addresses, and the LAN host
// hangs off the same bridge at 192.0.2.3/24 and 2001:db8:1::3/64. The
// client's view of its LAN (eth0, 192.0.2.0/24) is unchanged.
func (tp *Topology) AddLANHost(tb testing.TB) string {
	tb.Helper()
	host := NewNS(tb)
	SetSysctl(tb, host, "net.ipv6.conf.default.accept_dad", "0")
	IP(tb, tp.Peer,
		"link add br0 type bridge",
		"link set br0 up",
		"addr del 192.0.2.1/24 dev lan0",
		"addr del 2001:db8:1::1/64 dev lan0",
		"link set lan0 master br0",
		"addr add 192.0.2.1/24 dev br0",
		"addr add 2001:db8:1::1/64 dev br0 nodad",
		"link add lanh0 type veth peer name eth0 netns "+host,
		"link set lanh0 master br0",
		"link set lanh0 up")
	IP(tb, host,
		"addr add 192.0.2.3/24 dev eth0",
		"addr add 2001:db8:1::3/64 dev eth0 nodad",
		"link set eth0 up",
		"route add default via 192.0.2.1")
	WaitLinksUp(tb, host, "eth0")
	WaitLinksUp(tb, tp.Peer, "br0", "lanh0")
	return host
}
