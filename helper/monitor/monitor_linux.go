package monitor

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Monitor watches the kernel for the changes the helper reacts to. It is
// event-driven (netlink multicast, no polling), so it costs nothing while
// nothing changes.
//
// It reads its own netlink socket rather than vishvananda's
// LinkSubscribe, which reports our own Close as a receive error
// ("resource temporarily unavailable") and ends for good on the first
// real one, such as ENOBUFS when the kernel dropped events: here a
// deliberate Close is silent, and any other end of the subscription is
// followed by a new one and a Resynced event.
type Monitor struct {
	handle func(Event)
	onErr  func(error)
	// ns is the network namespace New ran in: a new subscription watches
	// that one, whichever thread makes it.
	ns vnetns.NsHandle

	mu     sync.Mutex
	sock   *nl.NetlinkSocket // the subscription; nil between two
	closed bool

	stop     chan struct{} // closed by Close: ends a wait between two subscriptions
	done     chan struct{} // closed when the watching goroutine has returned
	closeOne sync.Once
}

// Event is one change the Monitor saw.
type Event struct {
	Kind Kind
	Link string // the interface's name, for LinkDeleted; "" otherwise
	// Index is the interface an address or route event is about (a
	// route's output interface), 0 when it has none (a rule, an
	// unreachable route).
	Index int
}

// Kind says what changed.
type Kind int

// The kinds of Event.
const (
	// LinkDeleted: an interface was deleted.
	LinkDeleted Kind = iota + 1
	// Resynced: the subscription had failed (the kernel dropped events
	// for a full socket buffer, or the socket broke) and watches again.
	// Changes in between were not seen: the owner checks again, now,
	// whatever it cares about (the links of its tunnels). Later changes
	// are reported as usual.
	Resynced
	// RuleDeleted: a policy routing rule was deleted (RTM_DELRULE).
	RuleDeleted
	// RouteDeleted: a route was deleted (RTM_DELROUTE), of any table.
	RouteDeleted
	// NetChanged: an address was added or a route added (RTM_NEWADDR,
	// RTM_NEWROUTE): the network may have changed under the tunnels.
	NetChanged
	// AddrDeleted: an address was deleted (RTM_DELADDR).
	AddrDeleted
)

// Bounds of the wait before subscribing again after a failure: it doubles
// from minBackoff at each failure in a row, up to maxBackoff, so that a
// socket that fails at once cannot make the helper spin. A subscription
// that lived longer than maxBackoff starts the count again.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// New starts watching the network namespace of the calling thread and
// calls handle with every Event, one at a time, from a goroutine of its
// own, until Close. onErr hears of failures of the subscription, each
// followed by a new one; a deliberate Close is not one. handle should be
// quick: while it runs nothing reads the socket, and what the kernel then
// cannot queue is lost, which the Monitor reports with Resynced.
func New(handle func(Event), onErr func(error)) (*Monitor, error) {
	ns, err := vnetns.Get()
	if err != nil {
		return nil, fmt.Errorf("open the network namespace: %w", err)
	}
	sock, err := subscribe(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("subscribe to network changes: %w", err)
	}
	m := &Monitor{handle: handle, onErr: onErr, ns: ns, sock: sock,
		stop: make(chan struct{}), done: make(chan struct{})}
	go m.run(sock)
	return m, nil
}

// run reads sock until it fails, then subscribes again, until Close.
func (m *Monitor) run(sock *nl.NetlinkSocket) {
	defer close(m.done)
	backoff := minBackoff
	for {
		started := time.Now()
		err := m.read(sock)
		if !m.drop(sock) {
			return // Close closed the socket: not a failure
		}
		m.onErr(fmt.Errorf("receive link changes: %w; subscribing again", err))
		if time.Since(started) > maxBackoff {
			backoff = minBackoff
		}
		for sock = nil; sock == nil; {
			t := time.NewTimer(backoff)
			select {
			case <-m.stop:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxBackoff)
			s, err := subscribe(m.ns)
			if err != nil {
				m.onErr(fmt.Errorf("subscribe to link changes again: %w", err))
				continue
			}
			if !m.install(s) {
				s.Close()
				return
			}
			sock = s
		}
		// Subscribed first, then told: a change after this point comes
		// on the new socket, one before it is found by the owner's check.
		m.handle(Event{Kind: Resynced})
	}
}

// read hands sock's events to the handler until a receive fails.
func (m *Monitor) read(sock *nl.NetlinkSocket) error {
	for {
		msgs, from, err := sock.Receive()
		if err != nil {
			return err
		}
		if from.Pid != nl.PidKernel {
			continue // only the kernel speaks on these groups
		}
		for i := range msgs {
			switch msgs[i].Header.Type {
			case unix.RTM_DELLINK:
				if name, ok := linkName(&msgs[i]); ok {
					m.handle(Event{Kind: LinkDeleted, Link: name})
				}
			case unix.RTM_DELRULE:
				m.handle(Event{Kind: RuleDeleted})
			case unix.RTM_DELROUTE:
				m.handle(Event{Kind: RouteDeleted, Index: routeIndex(&msgs[i])})
			case unix.RTM_NEWROUTE:
				m.handle(Event{Kind: NetChanged, Index: routeIndex(&msgs[i])})
			case unix.RTM_NEWADDR:
				m.handle(Event{Kind: NetChanged, Index: addrIndex(&msgs[i])})
			case unix.RTM_DELADDR:
				m.handle(Event{Kind: AddrDeleted, Index: addrIndex(&msgs[i])})
			}
		}
	}
}

// routeIndex returns the RTA_OIF of a route message, 0 if it has none.
func routeIndex(msg *syscall.NetlinkMessage) int {
	attrs, err := syscall.ParseNetlinkRouteAttr(msg)
	if err != nil {
		return 0
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.RTA_OIF && len(a.Value) >= 4 {
			return int(nl.NativeEndian().Uint32(a.Value))
		}
	}
	return 0
}

// addrIndex returns the interface of an address message (ifa_index).
func addrIndex(msg *syscall.NetlinkMessage) int {
	if len(msg.Data) < unix.SizeofIfAddrmsg {
		return 0
	}
	return int(nl.NativeEndian().Uint32(msg.Data[4:8]))
}

// linkName returns the IFLA_IFNAME of a link message.
func linkName(msg *syscall.NetlinkMessage) (string, bool) {
	attrs, err := syscall.ParseNetlinkRouteAttr(msg)
	if err != nil {
		return "", false
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.IFLA_IFNAME {
			return strings.TrimRight(string(a.Value), "\x00"), true
		}
	}
	return "", false
}

// drop forgets sock after it failed, and closes it. It reports false if
// the Monitor is closed: the failure was Close's doing.
func (m *Monitor) drop(sock *nl.NetlinkSocket) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.sock = nil
	sock.Close()
	return true
}

// install makes s the subscription, unless the Monitor was closed
// meanwhile.
func (m *Monitor) install(s *nl.NetlinkSocket) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.sock = s
	return true
}

// Close stops watching and returns once no handler runs any more. It may
// be called more than once.
func (m *Monitor) Close() error {
	m.closeOne.Do(func() {
		m.mu.Lock()
		m.closed = true
		if m.sock != nil {
			m.sock.Close() // ends a Receive in progress
		}
		m.mu.Unlock()
		close(m.stop)
		<-m.done
		m.ns.Close()
	})
	<-m.done
	return nil
}
