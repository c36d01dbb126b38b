package health

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// manualClock moves only when the test says, and its one ticker ticks
// when the test says.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers int // tickers made
	c       chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: epoch, c: make(chan time.Time)}
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *manualClock) NewTicker(time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tickers++
	return manualTicker{c}
}

type manualTicker struct{ c *manualClock }

func (t manualTicker) C() <-chan time.Time { return t.c.c }
func (t manualTicker) Stop()               {}

// fakeTunnels is the devices and the listener of a Monitor under test.
type fakeTunnels struct {
	mu      sync.Mutex
	samples map[string]PeerSample
	reports chan Verdict
	heals   chan string
}

func newMonitor(t *testing.T) (*Monitor, *manualClock, *fakeTunnels) {
	clock := newManualClock()
	f := &fakeTunnels{samples: map[string]PeerSample{}, reports: make(chan Verdict, 100), heals: make(chan string, 100)}
	m := New(Deps{
		Read: func(tunnel string) ([]PeerSample, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return []PeerSample{f.samples[tunnel]}, nil
		},
		Report: func(_ string, v Verdict) { f.reports <- v },
		Heal:   func(_ context.Context, tunnel, why string) { f.heals <- why },
		Clock:  clock,
	})
	t.Cleanup(m.Close)
	return m, clock, f
}

// step advances the clock a second, moves the tunnel's counters and
// ticks; the tick's work is done when the next tick is taken, so it
// ticks twice at the same time (the second one changes nothing).
func (c *manualClock) step(f *fakeTunnels, name string, tx, rx uint64, handshake bool) {
	c.mu.Lock()
	c.now = c.now.Add(time.Second)
	now := c.now
	c.mu.Unlock()
	f.mu.Lock()
	s := f.samples[name]
	s.Key, s.Tx, s.Rx = "peerA", s.Tx+tx, s.Rx+rx
	if handshake {
		s.Handshake = now
	}
	f.samples[name] = s
	f.mu.Unlock()
	c.c <- now
	c.c <- now
}

func (f *fakeTunnels) heal(t *testing.T) string {
	t.Helper()
	select {
	case why := <-f.heals:
		return why
	case <-time.After(10 * time.Second):
		t.Fatal("no heal")
	}
	return ""
}

func (f *fakeTunnels) noHeal(t *testing.T) {
	t.Helper()
	select {
	case why := <-f.heals:
		t.Fatalf("a heal (%s) where none is due", why)
	default:
	}
}

// TestNoTickerWithoutTunnels: the Monitor makes a ticker (and a
// goroutine, which goleak would see left behind) only while it has
// tunnels.
func TestNoTickerWithoutTunnels(t *testing.T) {
	m, clock, f := newMonitor(t)
	m.Wake("resume")
	m.NetChanged()
	if clock.tickers != 0 {
		t.Fatalf("%d tickers with no tunnel", clock.tickers)
	}
	m.Add("wg0")
	clock.step(f, "wg0", 148, 92, true)
	if v := <-f.reports; v.State != OK {
		t.Fatalf("report %+v, want ok", v)
	}
	m.Remove("wg0")
	m.Add("wg1")
	m.Remove("wg1")
	if clock.tickers != 2 {
		t.Errorf("%d tickers made, want one per time a tunnel was added to none", clock.tickers)
	}
	if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
		t.Error(err)
	}
}

// TestHealBacksOff: a stalled tunnel is healed at once, then after 1, 2,
// 4 … seconds while it stays stalled; an answer ends it.
func TestHealBacksOff(t *testing.T) {
	m, clock, f := newMonitor(t)
	m.Add("wg0")
	clock.step(f, "wg0", 148, 92, true)
	<-f.reports
	var healedAt []int
	for i := 1; i <= 30; i++ {
		clock.step(f, "wg0", 128, 0, false)
		select {
		case <-f.heals:
			healedAt = append(healedAt, i)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Stalled 15 s after the interval in which unanswered data was first
	// sent began (step 0), then 1, 2, 4 and 8 s later.
	want := []int{15, 16, 18, 22, 30}
	if len(healedAt) != len(want) {
		t.Fatalf("healed at seconds %v, want %v", healedAt, want)
	}
	for i := range want {
		if healedAt[i] != want[i] {
			t.Fatalf("healed at seconds %v, want %v", healedAt, want)
		}
	}
	if v := <-f.reports; v.State != Stalled {
		t.Fatalf("report %+v, want stalled", v)
	}
	clock.step(f, "wg0", 148, 92, true)
	if v := <-f.reports; v.State != OK {
		t.Fatalf("report %+v, want ok", v)
	}
	for range 10 {
		clock.step(f, "wg0", 0, 0, false)
	}
	f.noHeal(t)
}

// TestWakeAndNetworkChange: a wake heals every tunnel at the next tick;
// network changes do once they have been quiet for a second.
func TestWakeAndNetworkChange(t *testing.T) {
	m, clock, f := newMonitor(t)
	m.Add("wg0")
	clock.step(f, "wg0", 148, 92, true)
	m.Wake("logind: resumed")
	clock.step(f, "wg0", 0, 0, false)
	if why := f.heal(t); why != "logind: resumed" {
		t.Errorf("heal for %q", why)
	}
	m.NetChanged()
	m.NetChanged()
	clock.step(f, "wg0", 0, 0, false) // a second after the changes
	if why := f.heal(t); why != "the network changed" {
		t.Errorf("heal for %q", why)
	}
	clock.step(f, "wg0", 0, 0, false)
	f.noHeal(t)
}

// TestConcurrentAddRemove: tunnels come and go at once from many
// goroutines (the helper changes different tunnels at the same time):
// the loop starts and ends with them, and nothing races.
func TestConcurrentAddRemove(t *testing.T) {
	m := New(Deps{
		Read:   func(string) ([]PeerSample, error) { return nil, nil },
		Report: func(string, Verdict) {},
		Heal:   func(context.Context, string, string) {},
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := string(rune('a' + i))
			for range 200 {
				m.Add(name)
				m.Verdict(name)
				m.Remove(name)
			}
		}()
	}
	wg.Wait()
	m.Close()
	if m.running {
		t.Error("the loop runs with no tunnel")
	}
}
