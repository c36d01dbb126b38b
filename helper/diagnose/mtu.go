package diagnose

import (
	"fmt"
	"net/netip"

	"github.com/wgtray/wgtray/ipc"
)

// MTUResult is what the path-MTU probe found: DF pings of decreasing
// size to Host through the tunnel.
type MTUResult struct {
	Host    netip.Addr
	LinkMTU int // the tunnel interface's MTU, the largest size tried
	// Largest is the largest size (IP header included) that was
	// answered; 0 when none was.
	Largest int
	// Failed is the smallest size that got no answer, 0 when all did.
	Failed int
	// FragNeeded is the MTU an ICMP "fragmentation needed" (or IPv6
	// "packet too big") told of, 0 when none came back.
	FragNeeded int
	// Err says why the probe could not run.
	Err string
}

// pickMTUHost chooses the address to probe: the one asked for, else the
// tunnel's first DNS server inside its AllowedIPs (often the peer's
// tunnel address), else the first address of the tunnel's subnet that
// is not this machine's.
func pickMTUHost(t *Tunnel, asked netip.Addr) (netip.Addr, string) {
	if asked.IsValid() {
		return asked, "given with --mtu-host"
	}
	for _, d := range t.DNS {
		if t.inTunnel(d) {
			return d, "the tunnel's DNS server"
		}
	}
	for _, a := range t.Addresses {
		if a.Bits() < a.Addr().BitLen()-1 {
			h := a.Masked().Addr().Next()
			if h != a.Addr() {
				return h, "the first address of the tunnel's subnet"
			}
		}
	}
	return netip.Addr{}, ""
}

// mtuCheck turns a probe's result into a verdict.
func mtuCheck(t *Tunnel, r MTUResult, why string) ipc.Check {
	c := ipc.Check{ID: "mtu.path", Group: ipc.GroupMTU, Tunnel: t.Name}
	tooBig := `ICMP "fragmentation needed"`
	if r.Host.Is6() {
		tooBig = `ICMPv6 "packet too big"`
	}
	if r.Host.IsValid() {
		c.Details = append(c.Details, fmt.Sprintf("probed %s (%s) with DF pings from %d bytes down", r.Host, why, r.LinkMTU))
	}
	switch {
	case !r.Host.IsValid():
		c.Verdict = ipc.VerdictWarning
		c.Summary = "MTU not checked: no address inside the tunnel to ping is known."
		c.Fix = "Run `wgtray doctor " + t.Name + " --mtu-host ADDR` with an address that answers pings through the tunnel (the peer's tunnel address)."
	case r.Err != "":
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("MTU not checked: %s.", r.Err)
	case r.Largest == 0:
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("MTU not checked: %s does not answer pings through %s, even small ones.", r.Host, t.Name)
		c.Fix = "Give an address that answers pings with --mtu-host."
	case r.Failed == 0:
		c.Verdict = ipc.VerdictOK
		c.Summary = fmt.Sprintf("Packets of the tunnel's full MTU (%d bytes) reach %s.", r.LinkMTU, r.Host)
	case r.FragNeeded > 0:
		c.Verdict = ipc.VerdictOK
		c.Summary = fmt.Sprintf("The path to %s carries at most %d bytes, less than %s's MTU of %d, and says so (%s), so connections adapt.",
			r.Host, r.Largest, t.Name, r.LinkMTU, tooBig)
		c.Fix = fmt.Sprintf("MTU = %d in [Interface] saves the round trips that finding it out costs.", r.Largest)
	default:
		c.Verdict = ipc.VerdictProblem
		c.Summary = fmt.Sprintf("Packets larger than %d bytes to %s through %s vanish without an %s coming back: a path-MTU black hole, which stalls large downloads and TLS handshakes.",
			r.Largest, r.Host, t.Name, tooBig)
		c.Fix = fmt.Sprintf("Add \"MTU = %d\" to the [Interface] section of %s's config and reconnect.", r.Largest, t.Name)
	}
	return c
}
