package spans

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOffCostsNothing checks that without a Recorder the calls the
// helper makes on every Connect allocate nothing.
func TestOffCostsNothing(t *testing.T) {
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		rec := From(ctx)
		rec.Start("polkit")()
		rec.StartIn("apply", "link-add")()
		rec.Sub("engine").Add("facts", time.Millisecond)
		_ = With(ctx, rec)
		rec.Finish(nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per call with timing off, want 0", allocs)
	}
}

// lockedBuffer lets the test read what Finish's goroutine writes.
type lockedBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	cond *sync.Cond
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.cond.Broadcast()
	return l.b.Write(p)
}

// TestLine checks the line the bench parses: steps in the order they
// began, repeated steps summed and counted, a part's steps named
// "part/step", and the call's CLOCK_MONOTONIC bounds in order.
func TestLine(t *testing.T) {
	buf := &lockedBuffer{}
	buf.cond = sync.NewCond(&buf.mu)
	rec := New("Connect")
	ctx := With(context.Background(), rec)
	From(ctx).Add("polkit", 2*time.Millisecond)
	eng := rec.Sub("engine")
	eng.Add("journal", time.Millisecond)
	eng.Add("journal", time.Millisecond)
	eng.StartIn("apply", "link-add")()
	before := Monotonic()
	rec.Finish(log.New(buf, "helper: ", 0))

	buf.mu.Lock()
	deadline := time.AfterFunc(10*time.Second, func() {
		buf.mu.Lock()
		buf.cond.Broadcast()
		buf.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	for !strings.Contains(buf.b.String(), "\n") && time.Since(start) < 10*time.Second {
		buf.cond.Wait()
	}
	out := buf.b.String()
	buf.mu.Unlock()
	_, js, ok := strings.Cut(strings.TrimSpace(out), Prefix)
	if !ok {
		t.Fatalf("no %q in %q", Prefix, out)
	}
	var l Line
	if err := json.Unmarshal([]byte(js), &l); err != nil {
		t.Fatalf("%q: %v", js, err)
	}
	if l.Method != "Connect" || l.StartMono <= 0 || l.EndMono < l.StartMono || l.EndMono > before+int64(time.Second) {
		t.Errorf("line %+v", l)
	}
	want := []Step{{"polkit", int64(2 * time.Millisecond), 1}, {"engine/journal", int64(2 * time.Millisecond), 2}}
	if len(l.Steps) != 3 || l.Steps[0] != want[0] || l.Steps[1] != want[1] || l.Steps[2].Name != "engine/apply link-add" {
		t.Errorf("steps %+v, want %+v then engine/apply link-add", l.Steps, want)
	}
}
