package daemon

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WatchLinks calls gone with the name of every link that is deleted, until
// ctx ends; onErr hears of socket errors. It is event-driven: netlink multicast, no polling.
func WatchLinks(ctx context.Context, gone func(name string), onErr func(error)) error {
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ErrorCallback: onErr})
	if err != nil {
		close(done)
		return fmt.Errorf("subscribe to link changes: %w", err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				// Closing done closes the socket; the library then closes
				// updates. Drain it so its reader never blocks on a send.
				close(done)
				for range updates {
				}
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.Header.Type == unix.RTM_DELLINK {
					gone(u.Attrs().Name)
				}
			}
		}
	}()
	return nil
}
