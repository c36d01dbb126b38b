// Package spans times the steps of one method call of the helper, for
// the bench's breakdown of Connect and Disconnect over D-Bus: where the
// time between the call's arrival and its reply goes.
//
// It costs nothing unless the helper runs with WGTRAY_TIMING=1: without
// a Recorder in the context every call below is a nil check. A Recorder
// holds step names and durations only, never a key or any other part of
// a config, and its line goes to the helper's stderr, which is root's.
package spans

import (
	"context"
	"encoding/json"
	"log"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Env is the environment variable that turns timing on ("1").
const Env = "WGTRAY_TIMING"

// Prefix starts every line a Recorder writes; the bench looks for it.
const Prefix = "wgtray-timing: "

// Recorder collects the steps of one call, or of a part of it (Sub). Its
// methods are safe for concurrent use and do nothing on a nil Recorder.
type Recorder struct {
	prefix string
	c      *call
}

// call is what the Recorders of one call share.
type call struct {
	method string
	start  time.Time
	mono   int64 // CLOCK_MONOTONIC at start, ns: comparable across processes

	mu    sync.Mutex
	order []string
	total map[string]time.Duration
	count map[string]int
}

// Line is what a Recorder writes, as JSON after Prefix.
type Line struct {
	Method string `json:"method"`
	// StartMono and EndMono are CLOCK_MONOTONIC (ns) when the method
	// began and returned: the bench, on the same machine, compares them
	// with its own readings around the call to time the transport.
	StartMono int64 `json:"start_mono_ns"`
	EndMono   int64 `json:"end_mono_ns"`
	// Steps are the steps in the order they first began, each with its
	// total duration (ns) and how many times it ran.
	Steps []Step `json:"steps"`
}

// Step is one named step of a call.
type Step struct {
	Name string `json:"name"`
	NS   int64  `json:"ns"`
	N    int    `json:"n"`
}

// Monotonic returns CLOCK_MONOTONIC in nanoseconds.
func Monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// New starts a Recorder for one call of method.
func New(method string) *Recorder {
	return &Recorder{c: &call{method: method, start: time.Now(), mono: Monotonic(), total: map[string]time.Duration{}, count: map[string]int{}}}
}

// Sub returns a Recorder of the same call whose steps are named
// "part/step": the steps of a part are inside the part's own step, and
// the bench does not add them to the call's a second time.
func (r *Recorder) Sub(part string) *Recorder {
	if r == nil {
		return nil
	}
	return &Recorder{prefix: r.prefix + part + "/", c: r.c}
}

type key struct{}

// With returns ctx carrying r; a nil r returns ctx as it is.
func With(ctx context.Context, r *Recorder) context.Context {
	if r == nil {
		return ctx
	}
	return context.WithValue(ctx, key{}, r)
}

// From returns the Recorder in ctx, or nil.
func From(ctx context.Context) *Recorder {
	r, _ := ctx.Value(key{}).(*Recorder)
	return r
}

func nothing() {}

// Start begins step name and returns the function that ends it. Steps
// of the same name add up.
func (r *Recorder) Start(name string) (end func()) {
	if r == nil {
		return nothing
	}
	t0 := time.Now()
	return func() { r.Add(name, time.Since(t0)) }
}

// StartIn is Start of step "group name", which it only joins when r
// records: a Recorder that is off must not cost an allocation.
func (r *Recorder) StartIn(group, name string) (end func()) {
	if r == nil {
		return nothing
	}
	return r.Start(group + " " + name)
}

// Add records d more of step name.
func (r *Recorder) Add(name string, d time.Duration) {
	if r == nil {
		return
	}
	name = r.prefix + name
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.total[name]; !ok {
		c.order = append(c.order, name)
	}
	c.total[name] += d
	c.count[name]++
}

// Finish ends the call now and logs its line from another goroutine, so
// that neither the encoding nor the write is charged to the call.
func (r *Recorder) Finish(logger *log.Logger) {
	if r == nil {
		return
	}
	c := r.c
	end := c.mono + int64(time.Since(c.start))
	go func() {
		c.mu.Lock()
		l := Line{Method: c.method, StartMono: c.mono, EndMono: end}
		for _, n := range c.order {
			l.Steps = append(l.Steps, Step{Name: n, NS: int64(c.total[n]), N: c.count[n]})
		}
		c.mu.Unlock()
		b, err := json.Marshal(l)
		if err != nil {
			return
		}
		logger.Print(Prefix + string(b))
	}()
}
