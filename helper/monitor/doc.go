// Package monitor tells the helper what changes underneath its tunnels,
// behind one type whose Close waits for its goroutines, in the manner of
// tailscale's net/netmon: the deletion of interfaces (a tunnel's link
// deleted from outside), of policy rules and routes (which the routing
// guard puts back), and changes of addresses and routes (after which the
// tunnels are healed). All of it is netlink multicast: nothing is polled.
//
// Netlink multicast is lossy by design: when the socket's buffer is full
// the kernel drops events and the next receive fails with ENOBUFS. The
// Monitor then subscribes again and says Resynced, and its owner checks
// again what it cares about, instead of missing a deletion for good.
package monitor
