// Package monitor tells the helper what changes underneath its tunnels,
// behind one type whose Close waits for its goroutines, in the manner of
// tailscale's net/netmon: today the deletion of interfaces (a tunnel's
// link deleted from outside); routes, rules, nftables and logind's
// suspend signals are the next events it is the place for.
package monitor
