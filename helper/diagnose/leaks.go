package diagnose

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// Internet addresses the default-route checks ask the kernel about:
// Quad9's, which no LAN has a route of its own for.
var internet = map[int]netip.Addr{
	4: netip.MustParseAddr("9.9.9.9"),
	6: netip.MustParseAddr("2620:fe::fe"),
}

// Explainer answers the route explainer's question for one packet.
type Explainer func(p Packet) ipc.Hop

// leakChecks are the leak checks of one full tunnel t: where each
// family's internet traffic goes, which more specific routes go around
// the tunnel, and whether the resolver's servers are reached through it.
func leakChecks(t *Tunnel, sys *System, explain Explainer, dnsServers []netip.Addr, dnsSource string) []ipc.Check {
	var out []ipc.Check
	for _, fam := range []int{4, 6} {
		out = append(out, defaultRouteCheck(t, fam, explain(Packet{Dst: internet[fam], Proto: 6, Port: 443})))
	}
	out = append(out, bypassCheck(t, sys, explain))
	out = append(out, dnsCheck(t, dnsServers, dnsSource, explain))
	return out
}

func defaultRouteCheck(t *Tunnel, fam int, hop ipc.Hop) ipc.Check {
	c := ipc.Check{ID: "leaks." + strings.ToLower(familyName(fam)) + "-default", Group: ipc.GroupLeaks, Tunnel: t.Name,
		Details: []string{hop.Sentence}}
	fn := familyName(fam)
	switch {
	case hop.Tunnel == t.Name:
		c.Verdict, c.Summary = ipc.VerdictOK, fmt.Sprintf("All %s traffic to the internet goes through %s.", fn, t.Name)
	case hop.Error != "" && t.blocks(fam):
		c.Verdict, c.Summary = ipc.VerdictOK, fmt.Sprintf("%s is blocked while %s is connected (the leak guard): nothing of it leaks.", fn, t.Name)
	case hop.Error != "" && t.Unguarded != "" && fam == 6:
		c.Verdict, c.Summary = ipc.VerdictOK, t.Unguarded+"."
	case hop.Error != "":
		c.Verdict, c.Summary = ipc.VerdictOK, fmt.Sprintf("%s traffic has no route out of this machine, so none leaks.", fn)
	case hop.Tunnel != "":
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("%s traffic to the internet goes through tunnel %s, not %s.", fn, hop.Tunnel, t.Name)
		c.Fix = "Connect only one full tunnel at a time."
	case !t.carries(fam) && t.LeakGuardOff:
		c.Verdict = ipc.VerdictProblem
		c.Summary = fmt.Sprintf("%s traffic goes around the tunnel via %s: %s carries only %s and the leak guard is off.",
			fn, hop.Dev, t.Name, familyName(10-fam))
		c.Fix = fmt.Sprintf("Add %s to AllowedIPs, or let wgtray-helper run with its leak guard (drop --leak-guard=false).", map[int]string{4: "0.0.0.0/0", 6: "::/0"}[fam])
	default:
		c.Verdict = ipc.VerdictProblem
		c.Summary = fmt.Sprintf("%s traffic to the internet goes around the tunnel via %s.", fn, hop.Dev)
		c.Fix = "See the rule named below: another program's rule or route takes the traffic first; remove it or disconnect that program."
	}
	return c
}

// bypassCheck finds the main table's routes through a gateway that are
// more specific than the default route: wg-quick's suppress rule lets
// them win over the tunnel, so their traffic goes around it.
func bypassCheck(t *Tunnel, sys *System, explain Explainer) ipc.Check {
	c := ipc.Check{ID: "leaks.bypass-routes", Group: ipc.GroupLeaks, Tunnel: t.Name, Verdict: ipc.VerdictOK}
	var around []string
	for _, e := range sys.Routes {
		fam := e.Family
		if e.Table != tableMain || e.Type != "unicast" || e.Dst.Bits() == 0 || (!t.carries(fam) && !t.blocks(fam)) {
			continue
		}
		if e.Dev == t.Name {
			continue
		}
		// The LAN's own prefixes are how the LAN stays reachable, as
		// with wg-quick; only routes through a gateway, or ones another
		// program added for a prefix beyond the link, carry traffic away.
		if !e.Gateway && e.Proto == "kernel" {
			continue
		}
		hop := explain(Packet{Dst: firstHost(e.Dst)})
		if hop.Tunnel != "" || hop.Error != "" {
			continue
		}
		around = append(around, hop.Sentence)
	}
	if len(around) == 0 {
		c.Summary = fmt.Sprintf("No route of the main table takes traffic around %s but the LAN's own.", t.Name)
		return c
	}
	c.Verdict = ipc.VerdictWarning
	c.Details = around
	c.Summary = fmt.Sprintf("%d route(s) of the main table take traffic around %s: %s.", len(around), t.Name, around[0])
	c.Fix = "If that traffic should be private, delete the route (`ip route del …`) or ask whoever added it (see its proto) not to."
	return c
}

// firstHost is the first address of p after its network address, the
// one a route explainer shows for a prefix.
func firstHost(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if p.Bits() < a.BitLen() {
		return a.Next()
	}
	return a
}

// dnsCheck tells whether each server the resolver uses is reached
// through the tunnel.
func dnsCheck(t *Tunnel, servers []netip.Addr, source string, explain Explainer) ipc.Check {
	c := ipc.Check{ID: "leaks.dns", Group: ipc.GroupLeaks, Tunnel: t.Name, Verdict: ipc.VerdictOK}
	if len(servers) == 0 {
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("No DNS server found in %s: names may not resolve at all.", source)
		c.Fix = fmt.Sprintf("Add a DNS = line to %s's config.", t.Name)
		return c
	}
	var outside, local []string
	for _, s := range servers {
		if s.IsLoopback() {
			local = append(local, s.String())
			c.Details = append(c.Details, fmt.Sprintf("%s is a resolver on this machine; where it forwards queries is its own business", s))
			continue
		}
		hop := explain(Packet{Dst: s, Proto: 17, Port: 53})
		c.Details = append(c.Details, hop.Sentence)
		if hop.Tunnel == "" && hop.Error == "" {
			outside = append(outside, fmt.Sprintf("%s (via %s)", s, hop.Dev))
		}
	}
	switch {
	case len(outside) > 0:
		c.Verdict = ipc.VerdictProblem
		c.Summary = fmt.Sprintf("DNS queries go around the tunnel: %s uses %s, outside %s, so the network sees every name you look up.",
			source, strings.Join(outside, ", "), t.Name)
		c.Fix = fmt.Sprintf("Add DNS = (the tunnel's DNS server) to %s's config and reconnect.", t.Name)
	case len(local) > 0:
		c.Verdict = ipc.VerdictOK
		c.Summary = fmt.Sprintf("DNS goes to a resolver on this machine (%s) as %s says.", strings.Join(local, ", "), source)
	default:
		c.Summary = fmt.Sprintf("Every DNS server %s names is reached through %s.", source, t.Name)
	}
	return c
}

// guardCheck reports the leak guard and kill switch state of t.
func guardCheck(t *Tunnel) ipc.Check {
	c := ipc.Check{ID: "leaks.guard", Group: ipc.GroupLeaks, Tunnel: t.Name, Verdict: ipc.VerdictOK}
	var parts []string
	for _, f := range t.Blocked {
		parts = append(parts, familyName(f)+" blocked while connected")
	}
	switch {
	case len(parts) > 0:
		c.Summary = fmt.Sprintf("Leak guard on: %s.", strings.Join(parts, ", "))
	case len(t.Full) == 2:
		c.Summary = fmt.Sprintf("%s carries both IPv4 and IPv6: the leak guard has nothing to block.", t.Name)
	case t.Unguarded != "":
		c.Summary = "Leak guard: " + t.Unguarded + "."
	case t.LeakGuardOff:
		c.Verdict = ipc.VerdictWarning
		c.Summary = "The leak guard is off (wgtray-helper --leak-guard=false): the family the tunnel does not carry goes around it."
		c.Fix = "Run wgtray-helper without --leak-guard=false."
	default:
		c.Summary = "Leak guard: nothing to block."
	}
	ks, hasKS := statusString(t, "KillSwitch")
	blocking, _ := statusString(t, "Blocking")
	switch {
	case !hasKS:
		c.Details = append(c.Details, "kill switch: not reported by this helper")
	case ks == "on" && !t.BlockKnown:
		c.Details = append(c.Details, "kill switch: on as an option; this helper does not put its block in the kernel (yet), so it cannot be checked")
	case ks == "on" && blocking == "off":
		c.Verdict = ipc.VerdictWarning
		c.Summary += " The kill switch is on, but its block is not in the kernel: if the tunnel fails, traffic goes out around it."
		c.Fix = "Reconnect the tunnel; if the block still does not hold, see the helper's log."
	case ks == "on":
		c.Details = append(c.Details, "kill switch on: its block is in the kernel, so nothing leaves outside the tunnel if it fails")
	default:
		c.Details = append(c.Details, "kill switch off: if the tunnel fails, traffic goes out around it (wgtray set "+t.Name+" kill-switch on)")
	}
	if lan, ok := statusString(t, "AllowLAN"); ok && hasKS {
		c.Details = append(c.Details, "LAN allowed past the kill switch: "+lan)
	}
	return c
}

// statusString reads a key other parts of the helper may add to Status,
// whatever its type, as text.
func statusString(t *Tunnel, key string) (string, bool) {
	v, ok := t.Status[key]
	if !ok {
		return "", false
	}
	switch x := v.Value().(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "on", true
		}
		return "off", true
	}
	return fmt.Sprint(v.Value()), true
}

// dnsProbeCheck judges where the active test query went.
func dnsProbeCheck(t *Tunnel, pr DNSProbe, explain Explainer) ipc.Check {
	c := ipc.Check{ID: "leaks.dns-query", Group: ipc.GroupLeaks, Tunnel: t.Name, Verdict: ipc.VerdictOK}
	if len(pr.Sent) == 0 {
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("The test query for %s went nowhere: %s.", pr.Name, pr.Err)
		return c
	}
	var outside, local, inside []string
	for _, s := range pr.Sent {
		own := false
		for _, a := range t.Addresses {
			own = own || a.Addr() == s.From
		}
		hop := explain(Packet{Dst: s.Server.Addr(), Proto: 17, Port: s.Server.Port()})
		c.Details = append(c.Details, fmt.Sprintf("query sent to %s from %s: %s", s.Server, s.From, hop.Sentence))
		switch {
		case s.Server.Addr().IsLoopback():
			local = append(local, s.Server.Addr().String())
		case own || hop.Tunnel == t.Name:
			inside = append(inside, s.Server.Addr().String())
		default:
			outside = append(outside, fmt.Sprintf("%s (from %s)", s.Server.Addr(), s.From))
		}
	}
	answered := "which answered"
	if !pr.Answered {
		answered = "which did not answer"
		if pr.Err != "" {
			c.Details = append(c.Details, pr.Err)
		}
	}
	switch {
	case len(outside) > 0:
		c.Verdict = ipc.VerdictProblem
		c.Summary = fmt.Sprintf("A test query for %s went to %s, outside %s: DNS leaks.", pr.Name, strings.Join(outside, ", "), t.Name)
		c.Fix = fmt.Sprintf("Give %s a DNS = line: while it is connected, its server then replaces the one the query went to.", t.Name)
	case len(inside) == 0:
		c.Summary = fmt.Sprintf("A test query for %s went to the resolver on this machine (%s), %s; where it goes on from there this test cannot see.", pr.Name, strings.Join(local, ", "), answered)
	case !pr.Answered:
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("A test query for %s went to %s through %s, %s.", pr.Name, strings.Join(inside, ", "), t.Name, answered)
		c.Fix = "Check that the tunnel's DNS server runs and answers."
	default:
		c.Summary = fmt.Sprintf("A test query for %s went to %s through %s, %s.", pr.Name, strings.Join(inside, ", "), t.Name, answered)
	}
	return c
}
