package health

import (
	"context"
	"log"
	"sync"
	"time"
)

// Interval is how often the Monitor reads the devices of connected
// tunnels. Nothing is read, and no timer runs, while none is connected.
const Interval = time.Second

// Healing backs off as NetworkManager's re-resolution does: from
// minHeal, doubling, up to maxHeal, for as long as a tunnel stays
// stalled.
const (
	minHeal = time.Second
	maxHeal = 5 * time.Minute
)

// netDebounce is how long the network must be quiet after an address or
// route change before the tunnels are healed for it.
const netDebounce = time.Second

// jumpLimit is how far the wall clock may move apart from the monotonic
// one between two ticks before the Monitor takes it for a wake from
// suspend (the monotonic clock stops while the machine sleeps), as
// tailscale's netmon does where logind does not say so.
const jumpLimit = 3 * time.Second

// Deps are what a Monitor works with.
type Deps struct {
	// Read returns a tunnel's peers as its device has them now.
	Read func(tunnel string) ([]PeerSample, error)
	// Report hears of every change of a tunnel's verdict, one at a time,
	// from the Monitor's goroutine: it should be quick.
	Report func(tunnel string, v Verdict)
	// Heal re-resolves a tunnel's endpoints, sets them again and makes
	// the device handshake; why says what asked for it. It runs in a
	// goroutine of its own, one at a time per tunnel, with a context
	// that ends when the tunnel is removed.
	Heal func(ctx context.Context, tunnel, why string)
	// Clock is RealClock{} unless a test speeds it up.
	Clock  Clock
	Logger *log.Logger
}

// Monitor judges the connected tunnels once a second and heals those
// that stall. Its goroutine runs only while it has tunnels.
type Monitor struct {
	d Deps

	mu      sync.Mutex
	tunnels map[string]*tracked
	running bool          // the loop's goroutine runs
	stop    chan struct{} // closed to end the loop (the last Remove, Close)
	done    chan struct{} // closed when that loop has returned
	healWG  sync.WaitGroup
	netAt   time.Time // when the last network change was seen; zero if none pending
	wake    string    // why all tunnels are to be healed at the next tick; "" if not
	closed  bool
}

type tracked struct {
	judge   *Judge
	ctx     context.Context
	cancel  context.CancelFunc
	healing bool
	healAt  time.Time // next heal while stalled; zero when not stalled
	delay   time.Duration
}

// New returns a Monitor with no tunnels.
func New(d Deps) *Monitor {
	if d.Clock == nil {
		d.Clock = RealClock{}
	}
	return &Monitor{d: d, tunnels: map[string]*tracked{}}
}

// Add starts judging a tunnel that has just connected: it is waiting.
func (m *Monitor) Add(tunnel string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if old := m.tunnels[tunnel]; old != nil {
		old.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.tunnels[tunnel] = &tracked{judge: NewJudge(m.d.Clock.Now()), ctx: ctx, cancel: cancel}
	if !m.running {
		m.running = true
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.loop(m.stop, m.done)
	}
}

// Remove stops judging a tunnel (it disconnected) and ends its heal in
// progress. With the last tunnel gone the loop ends.
func (m *Monitor) Remove(tunnel string) {
	m.mu.Lock()
	t := m.tunnels[tunnel]
	delete(m.tunnels, tunnel)
	var done chan struct{}
	if len(m.tunnels) == 0 && m.running {
		// Each loop has its own channels: a tunnel added while this one
		// ends starts the next loop.
		m.running = false
		close(m.stop)
		done = m.done
		m.netAt, m.wake = time.Time{}, ""
	}
	m.mu.Unlock()
	if t != nil {
		t.cancel()
	}
	if done != nil {
		<-done
	}
}

// Now is the Monitor's clock.
func (m *Monitor) Now() time.Time { return m.d.Clock.Now() }

// Verdict returns a tunnel's verdict, and false if it is not judged.
func (m *Monitor) Verdict(tunnel string) (Verdict, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tunnels[tunnel]
	if t == nil {
		return Verdict{}, false
	}
	return t.judge.Verdict(), true
}

// SetProblem stalls a tunnel for reason ("" clears it), as the routing
// guard does when it cannot put the tunnel's routing back.
func (m *Monitor) SetProblem(tunnel, reason string) {
	m.mu.Lock()
	t := m.tunnels[tunnel]
	if t == nil {
		m.mu.Unlock()
		return
	}
	now := m.d.Clock.Now()
	v, changed := t.judge.SetProblem(now, reason)
	m.afterVerdict(t, v, changed, now)
	m.mu.Unlock()
	if changed {
		m.d.Report(tunnel, v)
	}
}

// Wake heals every tunnel at the next tick: the machine resumed, says
// why.
func (m *Monitor) Wake(why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		m.wake = why
	}
}

// NetChanged notes a change of the machine's addresses or routes: once
// the network has been quiet for a second every tunnel is healed.
func (m *Monitor) NetChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		m.netAt = m.d.Clock.Now()
	}
}

// Close stops judging everything and waits for the goroutines.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.closed = true
	var names []string
	for n := range m.tunnels {
		names = append(names, n)
	}
	m.mu.Unlock()
	for _, n := range names {
		m.Remove(n)
	}
	m.healWG.Wait()
}

func (m *Monitor) loop(stop, done chan struct{}) {
	defer close(done)
	tick := m.d.Clock.NewTicker(Interval)
	defer tick.Stop()
	prev := m.d.Clock.Now()
	for {
		select {
		case <-stop:
			return
		case <-tick.C():
		}
		now := m.d.Clock.Now()
		// The monotonic clock stops in suspend, the wall clock does not.
		if d := now.Round(0).Sub(prev.Round(0)) - now.Sub(prev); d > jumpLimit || d < -jumpLimit {
			m.Wake("the clock jumped (resume from suspend?)")
		}
		prev = now
		m.tick(now)
	}
}

// tick samples every tunnel, reports changes and starts the heals due.
func (m *Monitor) tick(now time.Time) {
	m.mu.Lock()
	names := make([]string, 0, len(m.tunnels))
	for n := range m.tunnels {
		names = append(names, n)
	}
	wake := m.wake
	m.wake = ""
	if !m.netAt.IsZero() && now.Sub(m.netAt) >= netDebounce {
		m.netAt = time.Time{}
		if wake == "" {
			wake = "the network changed"
		}
	}
	m.mu.Unlock()
	for _, n := range names {
		// Outside the lock: the device may take a moment to answer.
		samples, err := m.d.Read(n)
		m.mu.Lock()
		t := m.tunnels[n]
		if t == nil || err != nil {
			m.mu.Unlock()
			continue // gone meanwhile, or racing its disconnect
		}
		v, changed := t.judge.Observe(now, samples)
		m.afterVerdict(t, v, changed, now)
		why := wake
		if why == "" && !t.healAt.IsZero() && !now.Before(t.healAt) {
			why = "stalled: " + v.Reason
			t.healAt = now.Add(t.delay)
			t.delay = min(2*t.delay, maxHeal)
		}
		if why != "" && !t.healing {
			t.healing = true
			m.healWG.Add(1)
			go m.heal(n, t, why)
		}
		m.mu.Unlock()
		if changed {
			m.d.Report(n, v)
		}
	}
}

// afterVerdict starts or ends a tunnel's heals with its stall. m.mu is
// held.
func (m *Monitor) afterVerdict(t *tracked, v Verdict, changed bool, now time.Time) {
	if !changed {
		return
	}
	switch {
	case v.State == Stalled && t.healAt.IsZero():
		t.healAt, t.delay = now, minHeal
	case v.State != Stalled:
		t.healAt, t.delay = time.Time{}, 0
	}
}

func (m *Monitor) heal(name string, t *tracked, why string) {
	defer m.healWG.Done()
	m.d.Heal(t.ctx, name, why)
	m.mu.Lock()
	t.healing = false
	m.mu.Unlock()
}
