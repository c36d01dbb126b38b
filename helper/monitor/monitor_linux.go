package monitor

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Monitor watches the kernel for the changes the helper reacts to. It is
// event-driven (netlink multicast, no polling), so it costs nothing while
// nothing changes.
type Monitor struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the watching goroutine has returned
}

// Event is one change the Monitor saw.
type Event struct {
	Kind Kind
	Link string // the interface's name
}

// Kind says what changed.
type Kind int

// The kinds of Event.
const (
	// LinkDeleted: an interface was deleted.
	LinkDeleted Kind = iota + 1
)

// New starts watching and calls handle with every Event, one at a time,
// from a goroutine of its own, until Close; onErr hears of socket errors.
func New(handle func(Event), onErr func(error)) (*Monitor, error) {
	updates := make(chan netlink.LinkUpdate, 16)
	stop := make(chan struct{})
	err := netlink.LinkSubscribeWithOptions(updates, stop, netlink.LinkSubscribeOptions{ErrorCallback: onErr})
	if err != nil {
		close(stop)
		return nil, fmt.Errorf("subscribe to link changes: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Monitor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			select {
			case <-ctx.Done():
				// Closing stop closes the socket; the library then closes
				// updates. Drain it so its reader never blocks on a send.
				close(stop)
				for range updates {
				}
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.Header.Type == unix.RTM_DELLINK {
					handle(Event{Kind: LinkDeleted, Link: u.Attrs().Name})
				}
			}
		}
	}()
	return m, nil
}

// Close stops watching and returns once no handler runs any more. It may
// be called more than once.
func (m *Monitor) Close() error {
	m.cancel()
	<-m.done
	return nil
}
