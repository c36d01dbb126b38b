package firewall

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnlgrpNftables is NFNLGRP_NFTABLES, the multicast group of every
// nf_tables change.
const nfnlgrpNftables = 7

// Watch puts the block's table back whenever another program deletes or
// flushes it (nft flush ruleset, a firewalld or nftables.service reload).
// It listens to nf_tables' own notifications, so it never polls: after
// each change of the ruleset it checks the table against what it should
// hold and, if it does not, sets it again. A lost notification (ENOBUFS)
// is a check as well.
type Watch struct {
	b      *Blocker
	conn   *netlink.Conn
	kick   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

// Repair describes one repair: when the change that broke the table was
// seen, how long putting it back took, and the error if it failed.
type Repair struct {
	Seen  time.Time
	Took  time.Duration
	Error error
}

// NewWatch starts watching for b. repaired is called, from the watch's
// goroutine, after each repair; report with errors of the watch itself.
func NewWatch(b *Blocker, repaired func(Repair), report func(error)) (*Watch, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: b.nsfd})
	if err != nil {
		return nil, fmt.Errorf("watch nftables: %w", err)
	}
	if err := c.JoinGroup(nfnlgrpNftables); err != nil {
		c.Close()
		return nil, fmt.Errorf("watch nftables: join group: %w", err)
	}
	w := &Watch{b: b, conn: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	w.wg.Add(2)
	go w.read(report)
	go w.check(repaired, report)
	w.poke()
	return w, nil
}

func (w *Watch) poke() {
	select {
	case w.kick <- struct{}{}:
	default: // a check is due already; it will see this change too
	}
}

// read turns every notification into a check.
func (w *Watch) read(report func(error)) {
	defer w.wg.Done()
	for {
		_, err := w.conn.Receive()
		select {
		case <-w.done:
			return
		default:
		}
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				w.poke() // notifications were lost: look anyway
				continue
			}
			report(fmt.Errorf("watch nftables: %w", err))
			// Broken socket: nothing more to learn from it; the table
			// stays as it is.
			return
		}
		w.poke()
	}
}

// check compares the table with what it should hold after each kick.
func (w *Watch) check(repaired func(Repair), report func(error)) {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case <-w.kick:
		}
		seen := time.Now()
		ok, err := w.b.Intact()
		if err != nil {
			report(fmt.Errorf("check nftables table: %w", err))
			continue
		}
		want := w.b.Want()
		if ok || want == nil {
			continue
		}
		err = w.b.Set(want)
		repaired(Repair{Seen: seen, Took: time.Since(seen), Error: err})
	}
}

// Close stops watching.
func (w *Watch) Close() {
	w.closed.Do(func() {
		close(w.done)
		w.conn.Close() // ends the blocked Receive
		w.wg.Wait()
	})
}
