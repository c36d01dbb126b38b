package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// healthSignals records every HealthChanged signal from the helper.
type healthSignals struct {
	mu   sync.Mutex
	cond *sync.Cond
	got  []ipc.HealthChange
}

func (s *service) watchHealth(t *testing.T) *healthSignals {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.client(t).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs := &healthSignals{}
	hs.cond = sync.NewCond(&hs.mu)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.Kind == ipc.EventHealth {
				hs.mu.Lock()
				hs.got = append(hs.got, ev.Health)
				hs.cond.Broadcast()
				hs.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return hs
}

// mark returns how many signals have come so far: waitFrom looks only
// at later ones.
func (hs *healthSignals) mark() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.got)
}

// waitFrom waits until a signal after the first from ones says name has
// health h, and returns it and how long it took.
func (hs *healthSignals) waitFrom(t *testing.T, from int, name string, h ipc.Health, timeout time.Duration) (ipc.HealthChange, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	timer := time.AfterFunc(timeout, func() { hs.mu.Lock(); hs.cond.Broadcast(); hs.mu.Unlock() })
	defer timer.Stop()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for {
		for _, c := range hs.got[from:] {
			if c.Name == name && c.Health == h {
				return c, time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HealthChanged(%s, %s) within %v; got %+v", name, h, timeout, hs.got)
		}
		hs.cond.Wait()
	}
}

func (hs *healthSignals) all() []ipc.HealthChange {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]ipc.HealthChange(nil), hs.got...)
}

// status is the tunnel's Status as root reads it.
func (s *service) status(t *testing.T, name string) ipc.Status {
	t.Helper()
	st, err := s.client(t).Status(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pinger pings addr from the client namespace every 200 ms until the
// test ends: traffic that expects an answer.
func pinger(t *testing.T, ns, addr string) {
	t.Helper()
	netns.StartProc(t, ns, nil, "ping", "-q", "-i", "0.2", addr)
}

// pingOnce reports whether one ping through the tunnel is answered
// within a few seconds, trying up to n times.
func pingOnce(t *testing.T, ns, addr string, n int) bool {
	t.Helper()
	for range n {
		if _, err := netns.Run(ns, "ping", "-c", "1", "-W", "2", addr); err == nil {
			return true
		}
	}
	return false
}

// peerHandshake returns the peer's latest handshake with the client, in
// unix seconds (0 for none), as `wg show IFACE latest-handshakes` says.
func (s *service) peerHandshake(t *testing.T) string {
	t.Helper()
	f := strings.Fields(netns.MustRun(t, s.tp.Peer, "wg", "show", s.tp.PeerIface, "latest-handshakes"))
	if len(f) != 2 {
		t.Fatalf("wg show latest-handshakes: %q", f)
	}
	return f[1]
}

// healthClock returns the helper's health clock, in unix seconds, as it
// prints it on SIGUSR1.
func (s *service) healthClock(t *testing.T) int64 {
	t.Helper()
	from := len(s.proc.Lines())
	if err := s.proc.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	line := s.proc.WaitLineFrom(t, from, "health-clock=", 10*time.Second)
	_, v, _ := strings.Cut(line, "health-clock=")
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		t.Fatalf("health clock in %q: %v", line, err)
	}
	return n
}

// waitRestore waits until the helper started last has brought up what
// was wanted up (it logs "restore: …" when done).
func (s *service) waitRestore(t *testing.T) {
	t.Helper()
	netns.WaitFor(t, 60*time.Second, "the helper's restore", func() bool {
		return strings.Contains(s.proc.Stderr(), "restore: ")
	})
}
