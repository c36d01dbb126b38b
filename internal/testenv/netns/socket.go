package netns

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// ListenTCP listens on addr, such as "198.51.100.2:7001", inside namespace
// ns. The listener is closed when the test ends.
func ListenTCP(tb testing.TB, ns, addr string) net.Listener {
	tb.Helper()
	var l net.Listener
	if err := inNS(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		tb.Fatalf("in %s: listen on tcp %s: %v", ns, addr, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// DialTCP connects to addr from inside namespace ns. It returns an error
// rather than failing the test, because tests also prove that a
// connection is impossible.
func DialTCP(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) { c, err = net.DialTimeout("tcp", addr, timeout); return err })
	return c, err
}

// ListenUDP binds a UDP socket to addr inside namespace ns. It is closed
// when the test ends.
func ListenUDP(tb testing.TB, ns, addr string) net.PacketConn {
	tb.Helper()
	var c net.PacketConn
	if err := inNS(ns, func() (err error) { c, err = net.ListenPacket("udp", addr); return err }); err != nil {
		tb.Fatalf("in %s: listen on udp %s: %v", ns, addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// DialUDP returns a UDP socket in namespace ns connected to addr.
func DialUDP(ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) { c, err = net.Dial("udp", addr); return err })
	return c, err
}

// EchoSource serves on addr in namespace ns: each connection is told the
// source address the server sees, in a line, and closed. With addr on the
// internet host, this is how a test proves which source address its
// traffic really had. It returns the address served, which tells the port
// when addr asked for port 0. The server stops when the test ends.
func EchoSource(tb testing.TB, ns, addr string) netip.AddrPort {
	tb.Helper()
	l := ListenTCP(tb, ns, addr)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed at cleanup
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintln(c, c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap())
			c.Close()
		}
	}()
	// Registered after ListenTCP's close, so this runs first: close, then
	// wait for the goroutine to see it.
	tb.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// SourceSeenBy connects from namespace fromNS to an EchoSource server at
// addr and returns the source address the server saw.
func SourceSeenBy(tb testing.TB, fromNS, addr string) netip.Addr {
	tb.Helper()
	c, err := DialTCP(fromNS, addr, 10*time.Second)
	if err != nil {
		tb.Fatalf("connect from %s to %s: %v", fromNS, addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		tb.Fatalf("read from %s: %v", addr, err)
	}
	a, err := netip.ParseAddr(strings.TrimSpace(line))
	if err != nil {
		tb.Fatalf("server at %s said %q: %v", addr, line, err)
	}
	return a
}
