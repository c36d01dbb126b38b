package health

import "time"

// Clock is the Monitor's time: the real one, or a faster one for tests
// that must see minutes of idleness without waiting them.
type Clock interface {
	Now() time.Time
	// NewTicker ticks every d of this clock's time.
	NewTicker(d time.Duration) Ticker
}

// Ticker is a time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the system's clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// FastClock runs Speed times faster than the real one from the moment it
// is made: a second of it is 1/Speed real seconds, in both its Now and
// its tickers. Its wall and monotonic readings move together, so a
// Monitor on it sees no suspend. For tests (wgtray-helper
// --health-speed).
type FastClock struct {
	start time.Time
	speed float64
}

// NewFastClock returns a clock running speed times faster than real time.
func NewFastClock(speed float64) *FastClock {
	return &FastClock{start: time.Now(), speed: speed}
}

// Now is the start plus the real time since, speed times over.
func (c *FastClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.speed))
}

// NewTicker ticks every d/speed of real time.
func (c *FastClock) NewTicker(d time.Duration) Ticker {
	return realTicker{time.NewTicker(time.Duration(float64(d) / c.speed))}
}
