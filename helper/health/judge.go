// Package health judges whether a connected tunnel's peers answer, from
// the device's counters and handshake times as Mullvad's connectivity
// monitor does (talpid-wireguard/src/connectivity), not from handshake age
// alone: WireGuard handshakes only while there is traffic, so an idle
// tunnel without PersistentKeepalive has an old handshake and is healthy.
//
// The Judge is pure: it is fed samples with the time they were taken and
// says ok, waiting or stalled. The Monitor reads the devices once a
// second, only while tunnels are connected, and heals stalled ones.
package health

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// State is a tunnel's health, as Status key Health and the HealthChanged
// signal carry it.
type State string

// The health states.
const (
	// OK: the peers answer what is sent to them, or nothing that needs
	// an answer is being sent.
	OK State = "ok"
	// Waiting: connected less than WaitFor ago and no handshake yet.
	Waiting State = "waiting"
	// Stalled: data went unanswered for StallAfter, or the last
	// handshake is older than RejectAfterTime while data is being sent,
	// or the tunnel's routing could not be kept (Verdict.Reason says).
	Stalled State = "stalled"
)

// WireGuard's timers (wireguard-go device/constants.go) and the limits
// derived from them.
const (
	// RejectAfterTime is how long a session key lives: a handshake older
	// than this while data is sent means no session at all.
	RejectAfterTime = 180 * time.Second
	// keepaliveTimeout is how long a live peer that received data waits
	// before it sends a keepalive if it has nothing else to send: a live
	// peer answers whatever it receives within it.
	keepaliveTimeout = 10 * time.Second
	// StallAfter is how long data may go unanswered before the tunnel is
	// stalled: keepaliveTimeout and a margin for a slow peer.
	StallAfter = keepaliveTimeout + 5*time.Second
	// WaitFor is how long a new tunnel is waiting, not stalled, without
	// a handshake.
	WaitFor = 15 * time.Second
	// keepaliveSize is the size of a keepalive on the wire (the counters
	// count it so): a 16-byte transport header and a 16-byte tag with no
	// payload. Keepalives are never answered, so they are not data
	// that expects an answer; a data packet is at least 48 bytes, a
	// handshake initiation 148.
	keepaliveSize = 32
	// initiationSize is the size of a handshake initiation. One that
	// comes in says only that the peer reaches us, not that what we send
	// reaches it: a peer behind a one-way outage initiates every 5 s.
	initiationSize = 148
)

// PeerSample is one reading of one peer of a device.
type PeerSample struct {
	Key       string    // the peer's public key: identifies it between samples
	Rx, Tx    uint64    // bytes received from and sent to it, as the device counts them
	Handshake time.Time // the last handshake, wall clock; zero if none
}

// Verdict is the judge's view of a tunnel.
type Verdict struct {
	State State
	// Peer is the key of the peer that stalled ("" otherwise, and for a
	// stall of the routing).
	Peer string
	// Since is, for Stalled, the last time the peer was heard from (the
	// connect time if never); otherwise when this state began. Wall
	// clock.
	Since time.Time
	// Reason says why a tunnel is stalled, for people.
	Reason string
}

// Judge follows one connected tunnel's samples. It is not safe for
// concurrent use.
type Judge struct {
	connected time.Time
	last      time.Time // when the previous sample was taken
	peers     map[string]*peer
	problem   string
	verdict   Verdict
}

// peer is what the judge keeps of one peer between samples.
type peer struct {
	rx, tx    uint64
	handshake time.Time
	heard     time.Time // last time anything came from it (or the connect)
	// unanswered is when data that expects an answer was first sent
	// after the last thing heard; zero when nothing waits for one.
	unanswered time.Time
	lastData   time.Time // last time data that expects an answer was sent
}

// NewJudge starts judging a tunnel connected at now: it is waiting.
func NewJudge(now time.Time) *Judge {
	return &Judge{connected: now, last: now, peers: map[string]*peer{},
		verdict: Verdict{State: Waiting, Since: now.Round(0)}}
}

// Verdict returns the current verdict.
func (j *Judge) Verdict() Verdict { return j.verdict }

// SetProblem makes the tunnel stalled for reason, whatever its traffic
// says, until it is called with "".
func (j *Judge) SetProblem(now time.Time, reason string) (Verdict, bool) {
	j.problem = reason
	return j.decide(now, j.judgeTraffic(now))
}

// Observe takes a sample of every peer, taken at now, and returns the
// verdict and whether it changed. A peer missing from samples is
// forgotten; a counter that went backwards (a peer replaced) starts
// that peer afresh.
func (j *Judge) Observe(now time.Time, samples []PeerSample) (Verdict, bool) {
	seen := make(map[string]bool, len(samples))
	for _, s := range samples {
		seen[s.Key] = true
		p := j.peers[s.Key]
		if p == nil || s.Rx < p.rx || s.Tx < p.tx {
			// Counted from the connect: what it has sent since then and
			// not been answered for is judged from the next sample on.
			p = &peer{heard: j.connected}
			if s.Rx > 0 || !s.Handshake.IsZero() {
				p.heard = now
			}
			p.rx, p.tx, p.handshake = s.Rx, s.Tx, s.Handshake
			j.peers[s.Key] = p
			continue
		}
		drx, dtx := s.Rx-p.rx, s.Tx-p.tx
		newHandshake := s.Handshake.After(p.handshake)
		p.rx, p.tx, p.handshake = s.Rx, s.Tx, s.Handshake
		if answered(drx) || newHandshake {
			p.heard = now
			p.unanswered = time.Time{}
			// What was sent in the same interval may have been before
			// the answer: it starts no wait.
			if expectsAnswer(dtx) {
				p.lastData = now
			}
			continue
		}
		if expectsAnswer(dtx) {
			p.lastData = now
			if p.unanswered.IsZero() {
				// Sent some time since the previous sample.
				p.unanswered = j.last
			}
		}
	}
	for k := range j.peers {
		if !seen[k] {
			delete(j.peers, k)
		}
	}
	j.last = now
	return j.decide(now, j.judgeTraffic(now))
}

// answered reports whether drx bytes received in one sample's interval
// are an answer: anything but handshake initiations alone (one or two in
// a second; no mix of data packets, 32+16n bytes each, and responses,
// 92, adds up to those sizes).
func answered(drx uint64) bool {
	return drx != 0 && drx != initiationSize && drx != 2*initiationSize
}

// expectsAnswer reports whether dtx bytes sent in one sample's interval
// are more than keepalives. At most two keepalives fit in a second (a
// persistent and a passive one); anything else is data or a handshake
// initiation, which a live peer answers.
func expectsAnswer(dtx uint64) bool {
	return dtx != 0 && !(dtx%keepaliveSize == 0 && dtx <= 2*keepaliveSize)
}

// judgeTraffic returns the verdict the counters give, before a problem
// is considered.
func (j *Judge) judgeTraffic(now time.Time) Verdict {
	anyHandshake := false
	for _, p := range j.peers {
		if !p.handshake.IsZero() {
			anyHandshake = true
		}
	}
	for _, k := range sortedKeys(j.peers) {
		p := j.peers[k]
		since := p.heard.Round(0)
		if !p.unanswered.IsZero() && now.Sub(p.unanswered) >= StallAfter {
			return Verdict{State: Stalled, Peer: k, Since: since,
				Reason: fmt.Sprintf("nothing came back for %d s while sending", int(StallAfter.Seconds()))}
		}
		// The handshake is wall clock: compared with now's wall clock.
		if !p.handshake.IsZero() && now.Round(0).Sub(p.handshake) > RejectAfterTime &&
			!p.lastData.IsZero() && now.Sub(p.lastData) < StallAfter {
			return Verdict{State: Stalled, Peer: k, Since: since,
				Reason: fmt.Sprintf("no handshake for more than %d s while sending", int(RejectAfterTime.Seconds()))}
		}
	}
	if !anyHandshake && now.Sub(j.connected) < WaitFor {
		return Verdict{State: Waiting}
	}
	return Verdict{State: OK}
}

// decide applies a problem over the traffic's verdict, keeps Since of a
// state that goes on, and records the result.
func (j *Judge) decide(now time.Time, v Verdict) (Verdict, bool) {
	if j.problem != "" {
		v = Verdict{State: Stalled, Since: j.verdict.Since, Reason: j.problem}
		if j.verdict.State != Stalled || j.verdict.Reason != j.problem {
			v.Since = now.Round(0)
		}
	}
	if v.State != Stalled {
		v.Since = j.verdict.Since
		if v.State != j.verdict.State {
			v.Since = now.Round(0)
		}
	}
	changed := v.State != j.verdict.State || v.Peer != j.verdict.Peer || v.Reason != j.verdict.Reason
	j.verdict = v
	return v, changed
}

// sortedKeys makes the verdict of several stalled peers the same every
// time: the first by key.
func sortedKeys(m map[string]*peer) []string {
	return slices.Sorted(maps.Keys(m))
}
