package netns

import (
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WaitLinksUp waits until the links named in namespace ns are
// operationally up and no route there is flagged "linkdown" any more.
// `ip link set up` returns before the kernel has noticed a veth's carrier:
// it sets the operational state ("state UP" in ip link) and clears the
// routes' linkdown flag a moment later, from a work queue. A Dump taken in
// that moment would differ from any later one, so a topology is only
// handed out once it has settled.
func WaitLinksUp(tb testing.TB, ns string, links ...string) {
	tb.Helper()
	var h *netlink.Handle
	// The handle's netlink sockets are made in ns and stay there.
	if err := inNS(ns, func() (err error) { h, err = netlink.NewHandle(unix.NETLINK_ROUTE); return err }); err != nil {
		tb.Fatalf("in %s: netlink: %v", ns, err)
	}
	defer h.Close()
	WaitFor(tb, 10*time.Second, "links "+ns+" "+strings.Join(links, ",")+" up", func() bool {
		for _, name := range links {
			l, err := h.LinkByName(name)
			if err != nil || l.Attrs().OperState != netlink.OperUp {
				return false
			}
		}
		routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return false
		}
		for _, r := range routes {
			if r.Flags&unix.RTNH_F_LINKDOWN != 0 {
				return false
			}
		}
		return true
	})
}
