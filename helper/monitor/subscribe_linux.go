package monitor

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink/nl"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// groups are the multicast groups the Monitor listens to: links (their
// deletion), rules and routes (the routing guard), addresses and routes
// (network changes).
var groups = []uint{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE,
	unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR}

// subscribe opens a netlink socket on the Monitor's multicast groups of
// network namespace ns. A socket belongs to the namespace it was made in for good,
// whichever thread reads it later. The helper runs in one namespace and
// no thread moves; the tests run a Monitor in a namespace of their own,
// and a new subscription made from another thread must still watch that
// one, so the thread goes there for the time of the socket(2) call.
func subscribe(ns vnetns.NsHandle) (*nl.NetlinkSocket, error) {
	type result struct {
		s   *nl.NetlinkSocket
		err error
	}
	res := make(chan result, 1)
	// A goroutine of its own, locked to its thread: if the thread cannot
	// be moved back it stays locked, and the runtime ends it with the
	// goroutine rather than let other goroutines run in ns.
	go func() {
		runtime.LockOSThread()
		cur, err := vnetns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			res <- result{nil, fmt.Errorf("open the thread's network namespace: %w", err)}
			return
		}
		defer cur.Close()
		if cur.Equal(ns) {
			s, err := nl.Subscribe(unix.NETLINK_ROUTE, groups...)
			runtime.UnlockOSThread()
			res <- result{s, err}
			return
		}
		if err := vnetns.Set(ns); err != nil {
			res <- result{nil, fmt.Errorf("enter the watched network namespace: %w", err)}
			return
		}
		s, err := nl.Subscribe(unix.NETLINK_ROUTE, groups...)
		if berr := vnetns.Set(cur); berr != nil {
			if s != nil {
				s.Close()
			}
			res <- result{nil, fmt.Errorf("return from the watched network namespace: %w", berr)}
			return
		}
		runtime.UnlockOSThread()
		res <- result{s, err}
	}()
	r := <-res
	return r.s, r.err
}
