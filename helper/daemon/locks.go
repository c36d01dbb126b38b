package daemon

import (
	"context"
	"slices"
	"sync"
)

// lockSet names the locks one change of state holds. Changes of different
// tunnels run at the same time unless they share one of the machine's
// resources that the engine reads first and changes later, with the
// reading part of the plan:
//
//   - routing: the free routing table and policy rule priorities a full
//     tunnel picks (read by Facts, used by the plan), the other full
//     tunnel that its Connect takes down, and src_valid_mark, which every
//     IPv4 full tunnel sets and restores. A tunnel with `Table = N` takes
//     it too: its routes make table N used, which a full tunnel's Facts
//     must see.
//   - dns: the DNS manager is known only once Facts ran, and the
//     /etc/resolv.conf fallback and resolvconf are read-modify-write of
//     one file across the whole change, so every tunnel with DNS settings
//     takes it. (systemd-resolved, per link, would not need it.)
//   - the tunnel's own lock, for everything else: two changes of one
//     tunnel never interleave.
//
// Everything else the engine's System does is safe for changes of
// different tunnels at once: netlink requests lock their socket, the
// nftables connection is used under its own lock, WireGuard devices under
// the device manager's, and objects are per tunnel (link, nftables table
// and journal named after it).
type lockSet struct {
	routing bool
	dns     bool
	tunnels []string // sorted, without repeats
}

// union is every lock of a and of b.
func (a lockSet) union(b lockSet) lockSet {
	out := lockSet{routing: a.routing || b.routing, dns: a.dns || b.dns}
	out.tunnels = append(slices.Clone(a.tunnels), b.tunnels...)
	slices.Sort(out.tunnels)
	out.tunnels = slices.Compact(out.tunnels)
	return out
}

// covers reports whether a holds every lock of b.
func (a lockSet) covers(b lockSet) bool {
	if (b.routing && !a.routing) || (b.dns && !a.dns) {
		return false
	}
	for _, n := range b.tunnels {
		if _, ok := slices.BinarySearch(a.tunnels, n); !ok {
			return false
		}
	}
	return true
}

// changeLocks are the locks of lockSet. Each is a channel of capacity one,
// so that a change waiting for one gives up when its context ends (a
// caller's deadline, or SIGTERM), which a sync.Mutex cannot.
type changeLocks struct {
	routing chan struct{}
	dns     chan struct{}

	mu      sync.Mutex
	tunnels map[string]*tunnelLock
}

// tunnelLock is one tunnel's lock, kept while some change holds or waits
// for it, so that the map holds no more entries than there are calls in
// progress.
type tunnelLock struct {
	ch    chan struct{}
	users int
}

func newChangeLocks() *changeLocks {
	return &changeLocks{
		routing: make(chan struct{}, 1),
		dns:     make(chan struct{}, 1),
		tunnels: map[string]*tunnelLock{},
	}
}

// take acquires the locks of ls, always in the same order (routing, dns,
// then the tunnels' by name) so that two changes never each hold what the
// other waits for. waiting is called, at most once, before it first waits
// for a busy lock. On an error (ctx ended) it holds nothing.
func (l *changeLocks) take(ctx context.Context, ls lockSet, waiting func()) (release func(), err error) {
	chans := make([]chan struct{}, 0, 2+len(ls.tunnels))
	if ls.routing {
		chans = append(chans, l.routing)
	}
	if ls.dns {
		chans = append(chans, l.dns)
	}
	l.mu.Lock()
	for _, n := range ls.tunnels {
		t := l.tunnels[n]
		if t == nil {
			t = &tunnelLock{ch: make(chan struct{}, 1)}
			l.tunnels[n] = t
		}
		t.users++
		chans = append(chans, t.ch)
	}
	l.mu.Unlock()

	held := 0
	release = func() {
		for _, ch := range chans[:held] {
			<-ch
		}
		l.forget(ls.tunnels)
	}
	for _, ch := range chans {
		select {
		case ch <- struct{}{}:
			held++
			continue
		default:
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		select {
		case ch <- struct{}{}:
			held++
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// forget drops the tunnels' locks that no change holds or waits for.
func (l *changeLocks) forget(tunnels []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range tunnels {
		if t := l.tunnels[n]; t != nil {
			if t.users--; t.users == 0 {
				delete(l.tunnels, n)
			}
		}
	}
}

// busy returns the tunnels that some change holds or waits for, sorted.
func (l *changeLocks) busy() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.tunnels))
	for n := range l.tunnels {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
