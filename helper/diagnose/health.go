package diagnose

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wgtray/wgtray/ipc"
)

// staleHandshake is how old a handshake may be while the peer answers:
// WireGuard rekeys every 2 minutes of traffic, and gives up on a session
// after 3.
const staleHandshake = 3 * time.Minute

// Resolved is a fresh resolution of a peer's endpoint name.
type Resolved struct {
	Addrs []netip.Addr
	Err   string
}

// healthChecks tell whether the peers answer: handshake age, traffic,
// the health state others report, and what the endpoint's name resolves
// to now. resolved is by peer index, for endpoints given by name.
func healthChecks(t *Tunnel, now time.Time, resolved map[int]Resolved) []ipc.Check {
	hs := ipc.Check{ID: "health.handshake", Group: ipc.GroupHealth, Tunnel: t.Name, Verdict: ipc.VerdictOK}
	var latest time.Time
	var rx, tx int64
	for i, p := range t.Peers {
		rx, tx = rx+p.Rx, tx+p.Tx
		age := "never"
		if !p.LastHandshake.IsZero() {
			age = now.Sub(p.LastHandshake).Round(time.Second).String() + " ago"
			if p.LastHandshake.After(latest) {
				latest = p.LastHandshake
			}
		}
		hs.Details = append(hs.Details, fmt.Sprintf("peer %d: endpoint %s, last handshake %s, received %d B, sent %d B", i+1, endpointText(p), age, p.Rx, p.Tx))
	}
	switch {
	case len(t.Peers) == 0:
		hs.Verdict, hs.Summary = ipc.VerdictProblem, t.Name+" has no peer: nothing can go through it."
		hs.Fix = "Add a [Peer] section to the config."
	case latest.IsZero():
		hs.Verdict = ipc.VerdictProblem
		hs.Summary = fmt.Sprintf("%s has had no handshake with its peer: the peer does not answer (sent %d B, received %d B).", t.Name, tx, rx)
		hs.Fix = "Check the peer's Endpoint and PublicKey, that the peer has this tunnel's public key (`wgtray status`), and that UDP to the endpoint is not blocked."
	case now.Sub(latest) > staleHandshake:
		// An idle tunnel without keepalives has no reason to handshake;
		// the health watch, where the helper has one, tells the two apart.
		hs.Verdict = ipc.VerdictWarning
		hs.Summary = fmt.Sprintf("The last handshake of %s was %s ago: fine while the tunnel is idle, but if traffic goes in, the peer has stopped answering.", t.Name, now.Sub(latest).Round(time.Second))
		hs.Fix = "Check that the peer is up and reachable; reconnecting resolves the endpoint's name again."
	case rx == 0:
		hs.Verdict = ipc.VerdictWarning
		hs.Summary = fmt.Sprintf("%s has a handshake but has received nothing yet.", t.Name)
	default:
		hs.Summary = fmt.Sprintf("%s's last handshake was %s ago; received %d B, sent %d B.", t.Name, now.Sub(latest).Round(time.Second), rx, tx)
	}
	out := []ipc.Check{hs}

	if h, ok := statusString(t, "Health"); ok && h != "" {
		c := ipc.Check{ID: "health.state", Group: ipc.GroupHealth, Tunnel: t.Name}
		switch h {
		case "ok":
			c.Verdict, c.Summary = ipc.VerdictOK, "The helper's health watch says the tunnel works."
		case "waiting":
			// Connected moments ago: a state the watch leaves within 15 s,
			// for ok or stalled. The handshake check above already says
			// whether one has happened.
			c.Verdict, c.Summary = ipc.VerdictOK, "The tunnel connected moments ago; the helper's health watch has not yet seen its first handshake (it says stalled if none comes within 15 s)."
		case "stalled":
			c.Verdict, c.Summary = ipc.VerdictProblem, "The helper's health watch says the tunnel has stalled: packets go out, nothing comes back."
			c.Fix = "Check that the peer is up; reconnect."
		default:
			c.Verdict, c.Summary = ipc.VerdictWarning, fmt.Sprintf("The helper's health watch says %q.", h)
		}
		if r, ok := statusString(t, "HealthReason"); ok && r != "" {
			c.Details = append(c.Details, r)
		}
		out = append(out, c)
	}

	ep := ipc.Check{ID: "health.endpoint", Group: ipc.GroupHealth, Tunnel: t.Name, Verdict: ipc.VerdictOK}
	var notes []string
	for i, p := range t.Peers {
		if p.Host == "" {
			continue
		}
		if _, err := netip.ParseAddr(p.Host); err == nil {
			notes = append(notes, fmt.Sprintf("peer %d: endpoint %s is an address", i+1, endpointText(p)))
			continue
		}
		r, ok := resolved[i]
		switch {
		case !ok:
		case r.Err != "":
			ep.Verdict = ipc.VerdictWarning
			ep.Summary = fmt.Sprintf("The endpoint %s no longer resolves (%s): reconnecting would fail.", p.Host, r.Err)
			ep.Fix = "Check the name, or the DNS server outside the tunnel that resolves it."
		case p.Current.IsValid() && !containsAddr(r.Addrs, p.Current.Addr()):
			ep.Verdict = ipc.VerdictWarning
			ep.Summary = fmt.Sprintf("The endpoint %s now resolves to %s, but the tunnel still uses %s, what it resolved to at connect time.", p.Host, addrsText(r.Addrs), p.Current.Addr())
			ep.Fix = "Reconnect the tunnel to use the new address."
		default:
			notes = append(notes, fmt.Sprintf("peer %d: %s resolves to %s, the address in use", i+1, p.Host, addrsText(r.Addrs)))
		}
	}
	if ep.Summary == "" {
		ep.Summary = "The peers' endpoints resolve as when the tunnel connected."
		if len(resolved) == 0 {
			ep.Summary = "No peer's endpoint needs resolving now."
		}
		if len(notes) == 0 {
			ep.Summary = "No peer has an endpoint: the peers connect to this machine."
		}
	}
	ep.Details = notes
	return append(out, ep)
}

func endpointText(p Peer) string {
	switch {
	case p.Current.IsValid():
		return p.Current.String()
	case p.Host != "":
		return fmt.Sprintf("%s:%d", p.Host, p.Port)
	}
	return "(none)"
}

func containsAddr(l []netip.Addr, a netip.Addr) bool {
	for _, x := range l {
		if x.Unmap() == a.Unmap() {
			return true
		}
	}
	return false
}

func addrsText(l []netip.Addr) string {
	var s []string
	for _, a := range l {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}
