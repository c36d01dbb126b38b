package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
)

// TestNoIPv6Detection checks that the answer of a kernel booted with
// ipv6.disable=1 to an IPv6 rule listing, as rulePrefs wraps it, is seen
// as "no IPv6", and other errors are not.
func TestNoIPv6Detection(t *testing.T) {
	if !noIPv6(fmt.Errorf("list rules: %w", unix.EAFNOSUPPORT)) {
		t.Error("EAFNOSUPPORT is not seen as a kernel without IPv6")
	}
	for _, err := range []error{nil, fmt.Errorf("list rules: %w", unix.EPERM)} {
		if noIPv6(err) {
			t.Errorf("%v is seen as a kernel without IPv6", err)
		}
	}
}

// TestResolveDeadline resolves an endpoint's name through a DNS server
// that never answers (a UDP socket that reads and says nothing): the
// resolution fails at its deadline instead of waiting for the C
// library's retries.
func TestResolveDeadline(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// The resolver's own goroutines outlive the deadline until a read
	// fails: closing every connection at the end lets them go.
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
	}()
	l := &Linux{
		resolveTimeout: 200 * time.Millisecond,
		resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				return nil, net.ErrClosed
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "udp", pc.LocalAddr().String())
			if err == nil {
				conns = append(conns, c)
			}
			return c, err
		}},
	}
	t0 := time.Now()
	_, err = l.resolve(context.Background(), config.Endpoint{Host: "vpn.example", Port: 51820})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("resolve through a silent server: %v, want a timeout", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("resolve took %v with a 200 ms deadline", d)
	}
}
