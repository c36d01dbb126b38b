package monitor

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestMain fails the run if a test leaves a goroutine behind: a Monitor's
// goroutines, and those of its new subscriptions, end with Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eventTimeout bounds each wait for an event; no test measures time.
const eventTimeout = 20 * time.Second

// watcher is a Monitor running in a test's namespace, with everything it
// reported.
type watcher struct {
	m      *Monitor
	events chan Event // every event, in order

	mu   sync.Mutex
	errs []string // what onErr heard
}

// watch starts a Monitor in namespace ns. before, when set, runs in the
// handler before each event is recorded (a test blocks it there). The
// Monitor is closed when the test ends.
func watch(t *testing.T, ns string, before func(Event)) *watcher {
	t.Helper()
	w := &watcher{events: make(chan Event, 4096)}
	handle := func(ev Event) {
		if before != nil {
			before(ev)
		}
		w.events <- ev
	}
	onErr := func(err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.errs = append(w.errs, err.Error())
	}
	err := netns.In(ns, func() error {
		var err error
		w.m, err = New(handle, onErr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.m.Close() })
	return w
}

func (w *watcher) errors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.errs...)
}

// waitFor returns once want was reported, failing the test if it is not
// within eventTimeout. Other events are skipped.
func (w *watcher) waitFor(t *testing.T, want Event) {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-w.events:
			if ev == want {
				return
			}
		case <-timer.C:
			t.Fatalf("no %+v within %v; errors reported: %q", want, eventTimeout, w.errors())
		}
	}
}

// vethPairs makes n veth pairs in ns, the test's own namespace, and
// returns the names of one end of each (the other is the name and "p").
func vethPairs(t *testing.T, ns string, n int) []string {
	t.Helper()
	var names, cmds []string
	for i := range n {
		name := fmt.Sprintf("veth%d", i)
		names = append(names, name)
		cmds = append(cmds, fmt.Sprintf("link add %s type veth peer name %sp", name, name))
	}
	netns.IP(t, ns, cmds...)
	return names
}

func deleted(name string) Event { return Event{Kind: LinkDeleted, Link: name} }

// TestCloseIsSilent: a Monitor reports a deletion in its namespace, and
// its Close, which closes the socket under the receive in progress, is
// no error (vishvananda's LinkSubscribe reported "Receive failed:
// resource temporarily unavailable" there, logged at every stop).
func TestCloseIsSilent(t *testing.T) {
	ns := netns.NewNS(t)
	links := vethPairs(t, ns, 1)
	w := watch(t, ns, nil)
	netns.IP(t, ns, "link del "+links[0])
	w.waitFor(t, deleted(links[0]))
	w.m.Close()
	w.m.Close()
	if errs := w.errors(); len(errs) != 0 {
		t.Errorf("Close reported errors: %q", errs)
	}
}

// TestResubscribeAfterBreak closes the subscription's socket behind the
// Monitor's back: it says so once, subscribes again (in the test's
// namespace, though its goroutine runs elsewhere), says Resynced, and
// sees the next deletion. Its goroutines are gone after Close.
func TestResubscribeAfterBreak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := netns.NewNS(t)
	links := vethPairs(t, ns, 2)
	w := watch(t, ns, nil)
	defer w.m.Close() // before the leak check
	for i, link := range links {
		if !w.m.breakSubscription() {
			t.Fatal("no subscription to break")
		}
		w.waitFor(t, Event{Kind: Resynced})
		if errs := w.errors(); len(errs) != i+1 || !strings.Contains(errs[i], "subscribing again") {
			t.Errorf("errors after break %d: %q; want one more saying it subscribes again", i+1, errs)
		}
		netns.IP(t, ns, "link del "+link)
		w.waitFor(t, deleted(link))
	}
}

// TestResyncAfterOverflow makes the kernel drop events, for real: while
// the handler is busy nothing reads the socket, a burst of link changes
// fills its buffer, and the deletion that follows is lost (ENOBUFS).
// vishvananda's subscription ended there for good; the Monitor must
// report Resynced, so that its owner checks again, and go on watching.
func TestResyncAfterOverflow(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := netns.NewNS(t)
	links := vethPairs(t, ns, 4)
	blocker, flood, lost, later := links[0], links[1], links[2], links[3]
	busy := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	w := watch(t, ns, func(ev Event) {
		if ev == deleted(blocker) {
			close(busy)
			<-release
		}
	})
	defer w.m.Close() // before the leak check
	defer once.Do(func() { close(release) })

	netns.IP(t, ns, "link del "+blocker)
	select {
	case <-busy:
	case <-time.After(eventTimeout):
		t.Fatalf("the handler did not get the first deletion within %v", eventTimeout)
	}
	// Each MTU change is one RTM_NEWLINK of a kilobyte or more: 2000 of
	// them overflow the default 208 KiB receive buffer many times over.
	var burst []string
	for i := range 2000 {
		burst = append(burst, fmt.Sprintf("link set dev %s mtu %d", flood, 1400+i%2))
	}
	netns.IP(t, ns, burst...)
	netns.IP(t, ns, "link del "+lost)
	once.Do(func() { close(release) })

	w.waitFor(t, Event{Kind: Resynced})
	if errs := w.errors(); len(errs) == 0 || !strings.Contains(errs[0], "no buffer space") {
		t.Errorf("errors reported: %q; want the kernel's ENOBUFS", errs)
	}
	netns.IP(t, ns, "link del "+later)
	w.waitFor(t, deleted(later))
}

// TestRoutingEvents: a deleted rule, a deleted route, an added and a
// deleted address are reported, the routes and addresses with their
// interface.
func TestRoutingEvents(t *testing.T) {
	ns := netns.NewNS(t)
	links := vethPairs(t, ns, 1)
	netns.IP(t, ns, "link set "+links[0]+" up", "rule add pref 1234 lookup 1234", "route add 198.51.100.0/24 dev "+links[0]+" table 1234")
	w := watch(t, ns, nil)
	var index int
	netns.In(ns, func() error {
		l, err := net.InterfaceByName(links[0])
		if err == nil {
			index = l.Index
		}
		return err
	})
	netns.IP(t, ns, "rule del pref 1234")
	w.waitFor(t, Event{Kind: RuleDeleted})
	netns.IP(t, ns, "route flush table 1234")
	w.waitFor(t, Event{Kind: RouteDeleted, Index: index})
	netns.IP(t, ns, "addr add 192.0.2.9/24 dev "+links[0])
	w.waitFor(t, Event{Kind: NetChanged, Index: index})
	netns.IP(t, ns, "addr del 192.0.2.9/24 dev "+links[0])
	w.waitFor(t, Event{Kind: AddrDeleted, Index: index})
}
