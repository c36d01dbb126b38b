package health

import (
	"strings"
	"testing"
	"time"
)

// fakeDevice is one peer's counters, moved by a test second by second,
// and the judge that samples them: the clock is the test's own.
type fakeDevice struct {
	t     *testing.T
	now   time.Time
	j     *Judge
	s     PeerSample
	trail []Verdict // every verdict that changed
}

var epoch = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

func newFake(t *testing.T) *fakeDevice {
	return &fakeDevice{t: t, now: epoch, j: NewJudge(epoch), s: PeerSample{Key: "peerA"}}
}

// second advances the clock by one second, applies what the peer sent
// and received in it, and samples.
func (f *fakeDevice) second(tx, rx uint64, handshake bool) Verdict {
	f.now = f.now.Add(time.Second)
	f.s.Tx += tx
	f.s.Rx += rx
	if handshake {
		f.s.Handshake = f.now
	}
	v, changed := f.j.Observe(f.now, []PeerSample{f.s})
	if changed {
		f.trail = append(f.trail, v)
	}
	return v
}

// run repeats second n times and returns the last verdict.
func (f *fakeDevice) run(n int, tx, rx uint64) Verdict {
	var v Verdict
	for range n {
		v = f.second(tx, rx, false)
	}
	return v
}

func (f *fakeDevice) want(v Verdict, st State) {
	f.t.Helper()
	if v.State != st {
		f.t.Fatalf("at +%v: %s (%s), want %s; changes %+v", f.now.Sub(epoch), v.State, v.Reason, st, f.trail)
	}
}

func TestWaitingUntilHandshake(t *testing.T) {
	f := newFake(t)
	f.want(f.j.Verdict(), Waiting)
	f.want(f.run(3, 148, 0), Waiting) // initiations, no answer yet
	v := f.second(0, 92, true)
	f.want(v, OK)
	if !v.Since.Equal(f.now) {
		t.Errorf("ok since %v, want %v", v.Since, f.now)
	}
}

// TestIdleNoHandshakeIsOK: a tunnel that sends nothing never handshakes
// (WireGuard handshakes on traffic): after WaitFor it is ok, not stalled.
func TestIdleNoHandshakeIsOK(t *testing.T) {
	f := newFake(t)
	f.want(f.run(14, 0, 0), Waiting)
	f.want(f.run(1, 0, 0), OK)
	f.want(f.run(600, 0, 0), OK)
}

// TestIdleOldHandshakeIsOK: a split tunnel without keepalive that was
// used once and then idles for 200 s has a handshake older than
// RejectAfterTime and is ok: it is not sending.
func TestIdleOldHandshakeIsOK(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	f.run(5, 500, 500)
	f.want(f.run(200, 0, 0), OK)
	if len(f.trail) != 1 {
		t.Errorf("changes %+v, want only the one to ok", f.trail)
	}
}

// TestKeepalivesOnlyIsOK: persistent keepalives are never answered; a
// tunnel that sends only those, with nothing coming back for minutes, is
// ok.
func TestKeepalivesOnlyIsOK(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	for range 12 {
		f.run(24, 0, 0)
		f.want(f.second(keepaliveSize, 0, false), OK)
	}
	// A persistent and a passive keepalive in the same second.
	f.want(f.second(2*keepaliveSize, 0, false), OK)
	f.want(f.run(20, 0, 0), OK)
}

// TestStallAfterUnansweredData: data goes out, nothing comes back: stalled
// once StallAfter has passed since it was first sent, naming the peer
// and the last time it was heard from; the first answer makes it ok.
func TestStallAfterUnansweredData(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	f.run(10, 128, 128) // pings answered
	heard := f.now
	f.want(f.run(14, 128, 0), OK) // sent in 14 intervals, the first from heard on
	v := f.second(128, 0, false)
	f.want(v, Stalled)
	if v.Peer != "peerA" || !v.Since.Equal(heard) || !strings.Contains(v.Reason, "nothing came back") {
		t.Errorf("stalled verdict %+v; want peer peerA, since %v", v, heard)
	}
	f.want(f.run(100, 128, 0), Stalled)
	if len(f.trail) != 2 {
		t.Errorf("changes %+v: a stall that goes on must not be reported again", f.trail)
	}
	f.want(f.second(148, 92, true), OK)
}

// TestPassiveKeepaliveAnswers: a peer that gets data but has nothing to
// send back answers with a keepalive within 10 s (KEEPALIVE_TIMEOUT):
// a ping to a host that never replies does not stall the tunnel.
func TestPassiveKeepaliveAnswers(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	// 150 s: within REKEY_AFTER_TIME's renewal, so the handshake rule
	// stays out of it.
	for range 15 {
		f.want(f.run(9, 128, 0), OK)
		f.want(f.second(128, keepaliveSize, false), OK)
	}
}

// TestHandshakeTooOldWhileSending: answers keep coming (so the traffic
// rule holds) but the handshake is older than RejectAfterTime while data
// is sent: stalled. Idle again, it is ok.
func TestHandshakeTooOldWhileSending(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	f.want(f.run(int(RejectAfterTime.Seconds())-1, 128, 128), OK)
	f.want(f.run(2, 128, 128), Stalled)
	if v := f.j.Verdict(); !strings.Contains(v.Reason, "handshake") {
		t.Errorf("reason %q does not name the handshake", v.Reason)
	}
	f.want(f.run(int(StallAfter.Seconds()), 0, 0), OK)
}

// TestNeverAnswered: a peer that never answers a new tunnel's handshake
// initiations (every 5 s) is stalled, since the connect.
func TestNeverAnswered(t *testing.T) {
	f := newFake(t)
	var v Verdict
	for i := range 20 {
		tx := uint64(0)
		if i%5 == 0 {
			tx = 148
		}
		v = f.second(tx, 0, false)
	}
	f.want(v, Stalled)
	if !v.Since.Equal(epoch) {
		t.Errorf("since %v, want the connect %v", v.Since, epoch)
	}
}

// TestProblemOverridesTraffic: a routing problem stalls a healthy tunnel
// with its reason until it is cleared.
func TestProblemOverridesTraffic(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	v, changed := f.j.SetProblem(f.now, "rule 32764 deleted and could not be added again")
	if !changed || v.State != Stalled || v.Peer != "" || !strings.Contains(v.Reason, "rule 32764") {
		t.Fatalf("SetProblem: %+v changed=%v", v, changed)
	}
	f.want(f.run(5, 128, 128), Stalled)
	v, changed = f.j.SetProblem(f.now, "")
	if !changed || v.State != OK {
		t.Fatalf("problem cleared: %+v changed=%v", v, changed)
	}
}

// TestCountersReset: a peer whose counters go backwards (replaced by a
// new one of the same key) is judged afresh, not as sending 2^64 bytes.
func TestCountersReset(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	f.run(5, 1000, 1000)
	f.s.Tx, f.s.Rx = 0, 0
	f.want(f.run(30, 0, 0), OK)
}

// TestPeerRemoved: a stalled peer that is removed no longer stalls the
// tunnel.
func TestPeerRemoved(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	f.want(f.run(20, 128, 0), Stalled)
	f.now = f.now.Add(time.Second)
	if v, _ := f.j.Observe(f.now, nil); v.State != OK {
		t.Errorf("no peers left: %+v, want ok", v)
	}
}

// TestInitiationsAreNoAnswer: a peer that our packets no longer reach
// but that reaches us initiates handshakes every 5 s: those are not an
// answer, and the tunnel stalls.
func TestInitiationsAreNoAnswer(t *testing.T) {
	f := newFake(t)
	f.second(148, 92, true)
	var v Verdict
	for i := range 20 {
		rx := uint64(0)
		if i%5 == 4 {
			rx = initiationSize
		}
		v = f.second(128+92, rx, false) // pings, and our responses
	}
	f.want(v, Stalled)
}
