package testnet

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// inNS runs fn on a thread that is in namespace ns, then moves the thread
// back. Sockets fn creates belong to ns for good, whichever thread later
// uses them. If the thread cannot be moved back it stays locked, and the
// runtime discards it when this goroutine ends.
func inNS(ns string, fn func() error) error {
	target, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("return to the original namespace: %w", err)
			return // thread stays locked and is thrown away
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ListenTCP listens on addr inside namespace ns; the listener is closed
// when the test ends.
func ListenTCP(tb testing.TB, ns, addr string) net.Listener {
	tb.Helper()
	var l net.Listener
	if err := inNS(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		tb.Fatalf("listen on %s in %s: %v", addr, ns, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// DialTCP connects to addr from inside namespace ns.
func DialTCP(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) { c, err = net.DialTimeout("tcp", addr, timeout); return err })
	return c, err
}

// EchoSource serves on addr in namespace ns: every connection is told the
// source address the server sees, then closed.
func EchoSource(tb testing.TB, ns, addr string) {
	tb.Helper()
	l := ListenTCP(tb, ns, addr)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap())
			c.Close()
		}
	}()
	tb.Cleanup(func() { l.Close(); wg.Wait() })
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
