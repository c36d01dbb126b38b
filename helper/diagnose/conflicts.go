package diagnose

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// Bus names of the network tools whose presence matters.
const (
	busNetworkd = "org.freedesktop.network1"
	busFirewall = "org.fedoraproject.FirewallD1"
	busNM       = "org.freedesktop.NetworkManager"
	busResolved = "org.freedesktop.resolve1"
)

// Tailscale's footprint: its table and the priorities of its rules.
const (
	tailscaleTable   = 52
	tailscaleLink    = "tailscale0"
	tailscaleFirst   = 5210
	tailscaleLast    = 5270
	mullvadTableName = "mullvad"
)

// conflictChecks look for other tools' routing, firewall and DNS
// footprints that fight the tunnels.
func conflictChecks(sys *System, tunnels []Tunnel, explain Explainer) []ipc.Check {
	return []ipc.Check{
		wireguardCheck(sys, tunnels),
		tailscaleCheck(sys, tunnels),
		mullvadCheck(sys),
		nftablesCheck(sys, tunnels),
		shadowCheck(sys, tunnels, explain),
		networkdCheck(sys, tunnels),
		firewalldCheck(sys, tunnels),
		resolvConfCheck(sys, tunnels),
	}
}

func isOurs(tunnels []Tunnel, link string) bool { return tunnelOfDev(tunnels, link) != nil }

// wireguardCheck finds other WireGuard links, and the tables and
// fwmarks they share with ours.
func wireguardCheck(sys *System, tunnels []Tunnel) ipc.Check {
	c := ipc.Check{ID: "conflicts.wireguard", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK}
	var others []string
	for _, l := range sys.Links {
		if !l.WireGuard || isOurs(tunnels, l.Name) {
			continue
		}
		desc := l.Name
		if l.FwMark != 0 {
			desc += fmt.Sprintf(" (fwmark %#x)", l.FwMark)
		}
		others = append(others, desc)
		for _, t := range tunnels {
			if t.FullTunnel && l.FwMark == t.Table {
				c.Verdict = ipc.VerdictProblem
				c.Details = append(c.Details, fmt.Sprintf("%s marks its packets %#x, the fwmark of %s: the two tunnels' rules cannot tell their packets apart", l.Name, l.FwMark, t.Name))
			}
		}
	}
	for _, t := range tunnels {
		if !t.FullTunnel {
			continue
		}
		for _, e := range sys.Routes {
			// The leak guard's unreachable routes are the tunnel's own,
			// on lo.
			if e.Table == t.Table && e.Type == "unicast" && e.Dev != "" && e.Dev != t.Name {
				c.Verdict = ipc.VerdictProblem
				c.Details = append(c.Details, fmt.Sprintf("table %d, %s's, also has %s, a route of another interface", t.Table, t.Name, e))
			}
		}
	}
	switch {
	case c.Verdict == ipc.VerdictProblem:
		c.Summary = fmt.Sprintf("Another WireGuard tunnel (%s) uses the same routing table or fwmark as wgtray's: %s.", strings.Join(others, ", "), c.Details[0])
		if len(others) == 0 {
			c.Summary = "Another interface has routes in a wgtray tunnel's table: " + c.Details[0] + "."
		}
		c.Fix = "Give the other tunnel its own Table and FwMark (wg-quick picks a free one when its config has neither), or bring it down while wgtray's is up."
	case len(others) > 0:
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("Other WireGuard interfaces are up (%s); they use other tables and fwmarks, but two full tunnels at once send traffic to whichever rule comes first.", strings.Join(others, ", "))
		c.Fix = "Bring the other tunnels down if traffic should go through wgtray's only."
	default:
		c.Summary = "No other WireGuard interface is up."
	}
	return c
}

func tailscaleCheck(sys *System, tunnels []Tunnel) ipc.Check {
	c := ipc.Check{ID: "conflicts.tailscale", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK}
	for _, l := range sys.Links {
		if l.Name == tailscaleLink {
			c.Details = append(c.Details, "interface tailscale0 exists")
		}
	}
	var rules []string
	for _, r := range sys.Rules {
		if r.Priority >= tailscaleFirst && r.Priority <= tailscaleLast {
			rules = append(rules, fmt.Sprintf("%d: %s", r.Priority, r))
		}
	}
	if len(rules) > 0 {
		c.Details = append(c.Details, "rules "+strings.Join(rules, "; "))
	}
	var table []string
	defaultRoute := false
	for _, e := range sys.Routes {
		if e.Table == tailscaleTable {
			table = append(table, e.String())
			if e.Dst.Bits() == 0 && e.Type == "unicast" {
				defaultRoute = true
			}
		}
	}
	if len(table) > 0 {
		c.Details = append(c.Details, "table 52: "+strings.Join(table, "; "))
	}
	full := false
	for _, t := range tunnels {
		full = full || t.FullTunnel
	}
	switch {
	case len(c.Details) == 0:
		c.Summary = "No sign of Tailscale (table 52, rules 5210-5270, tailscale0)."
	case len(rules) > 0 && defaultRoute && full:
		c.Verdict = ipc.VerdictProblem
		c.Summary = "Tailscale uses an exit node: its rule 5270 sends every packet to table 52 before the tunnel's rules, so traffic goes to Tailscale, not the tunnel."
		c.Fix = "Turn off Tailscale's exit node (`tailscale set --exit-node=`) or stop Tailscale while the tunnel is up."
	case len(rules) > 0 && full:
		c.Verdict = ipc.VerdictWarning
		c.Summary = fmt.Sprintf("Tailscale's rules (%d-%d) come before the tunnel's: the %d route(s) of its table 52 win over the tunnel for their addresses.", tailscaleFirst, tailscaleLast, len(table))
		c.Fix = "Nothing to do if those addresses are your tailnet's; otherwise stop Tailscale while the tunnel is up."
	default:
		c.Verdict = ipc.VerdictWarning
		c.Summary = "Tailscale is installed and active; its rules come before wgtray's, at priorities 5210-5270."
		c.Fix = "Check `wgtray doctor route DEST` for the addresses you care about."
	}
	return c
}

func mullvadCheck(sys *System) ipc.Check {
	c := ipc.Check{ID: "conflicts.mullvad", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK, Summary: "No Mullvad firewall (nftables table inet mullvad)."}
	for _, t := range sys.NFTables {
		if t.Family == "inet" && t.Name == mullvadTableName {
			c.Verdict = ipc.VerdictProblem
			c.Summary = "Mullvad's firewall is loaded (nftables table inet mullvad): its kill switch drops traffic that does not go through Mullvad's own tunnel, wgtray's included."
			c.Fix = "Disconnect Mullvad and turn off its \"lockdown mode\" (`mullvad lockdown-mode set off`), or quit the Mullvad daemon."
		}
	}
	return c
}

// shadowCheck finds foreign rules before the tunnel's that catch
// ordinary traffic and send it to another table.
func shadowCheck(sys *System, tunnels []Tunnel, explain Explainer) ipc.Check {
	c := ipc.Check{ID: "conflicts.shadowing-rules", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK}
	for _, t := range tunnels {
		if !t.FullTunnel {
			continue
		}
		for _, fam := range []int{4, 6} {
			first := t.firstPref(fam)
			if first == 0 {
				continue
			}
			for _, r := range sys.Rules {
				if r.Family != fam || r.Priority >= first || t.ownsRule(r) || slices.ContainsFunc(tunnels, func(o Tunnel) bool { return o.ownsRule(r) }) {
					continue
				}
				if r.Priority == 0 && r.Table == tableLocal {
					continue
				}
				if r.Priority >= tailscaleFirst && r.Priority <= tailscaleLast {
					continue // the Tailscale check tells of these
				}
				if !r.matches(Packet{Dst: internet[fam], Proto: 6, Port: 443}) {
					continue
				}
				hop := explain(Packet{Dst: internet[fam], Proto: 6, Port: 443})
				if hop.RulePriority == r.Priority && hop.Rule == r.String() && hop.Tunnel == "" {
					c.Verdict = ipc.VerdictProblem
					c.Details = append(c.Details, fmt.Sprintf("rule %d (%s) comes before %s's rules (%d): %s", r.Priority, ruleWords(r, tunnels), t.Name, first, hop.Sentence))
				} else {
					if c.Verdict == ipc.VerdictOK {
						c.Verdict = ipc.VerdictWarning
					}
					c.Details = append(c.Details, fmt.Sprintf("rule %d (%s) comes before %s's rules (%d); its table has no route for the internet now, but once it does, that traffic goes around the tunnel", r.Priority, ruleWords(r, tunnels), t.Name, first))
				}
			}
		}
	}
	switch c.Verdict {
	case ipc.VerdictOK:
		c.Summary = "No other rule comes before the tunnel's for ordinary traffic."
	case ipc.VerdictProblem:
		c.Summary = "A rule of another program catches traffic before the tunnel's rules: " + firstProblem(c.Details) + "."
		c.Fix = "Delete that rule (`ip rule del pref N`) or stop the program that adds it."
	default:
		c.Summary = "A rule of another program comes before the tunnel's: " + c.Details[0] + "."
		c.Fix = "Delete that rule (`ip rule del pref N`) if nothing needs it."
	}
	return c
}

func firstProblem(details []string) string {
	for _, d := range details {
		if !strings.Contains(d, "has no route for the internet now") {
			return d
		}
	}
	return details[0]
}

func networkdCheck(sys *System, tunnels []Tunnel) ipc.Check {
	c := ipc.Check{ID: "conflicts.networkd", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK}
	switch {
	case !sys.BusNames[busNetworkd]:
		c.Summary = "systemd-networkd is not running."
	case !sys.NetworkdForeignRules:
		c.Summary = fmt.Sprintf("systemd-networkd runs, with ManageForeignRoutingPolicyRules=no (%s): it leaves the tunnel's rules alone.", sys.NetworkdConf)
	default:
		c.Verdict = ipc.VerdictWarning
		where := "its default"
		if sys.NetworkdConf != "" {
			where = sys.NetworkdConf
		}
		c.Summary = fmt.Sprintf("systemd-networkd runs with ManageForeignRoutingPolicyRules=yes (%s): whenever it reconfigures a link it deletes policy rules it did not make, the tunnel's among them.", where)
		c.Fix = "Set ManageForeignRoutingPolicyRules=no in the [Network] section of /etc/systemd/networkd.conf, then `networkctl reload`."
	}
	return c
}

func firewalldCheck(sys *System, tunnels []Tunnel) ipc.Check {
	c := ipc.Check{ID: "conflicts.firewalld", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK, Summary: "firewalld is not running."}
	if sys.BusNames[busFirewall] {
		var ours []string
		for _, t := range tunnels {
			for _, f := range t.Firewall {
				ours = append(ours, f.Family+" "+f.Name)
			}
		}
		c.Verdict = ipc.VerdictWarning
		c.Summary = "firewalld runs: `firewall-cmd --reload` flushes the nftables ruleset, tables it did not make included"
		if len(ours) > 0 {
			c.Summary += " (the tunnel's " + strings.Join(ours, ", ") + ")"
		}
		c.Summary += "."
		c.Fix = "Reconnect the tunnel after reloading firewalld."
	}
	return c
}

// resolvConfCheck compares who writes /etc/resolv.conf with the DNS
// manager the tunnels' DNS was given to.
func resolvConfCheck(sys *System, tunnels []Tunnel) ipc.Check {
	c := ipc.Check{ID: "conflicts.resolv-conf", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK}
	rc := sys.ResolvConf
	writer := rc.Writer
	if rc.WrittenByUs {
		writer = "wgtray"
	}
	desc := rc.Path
	if rc.Symlink != "" {
		desc += " (a link to " + rc.Symlink + ")"
	}
	var managers []string
	for _, t := range tunnels {
		if t.DNSManager != "" && !slices.Contains(managers, t.DNSManager) {
			managers = append(managers, t.DNSManager)
		}
	}
	c.Summary = fmt.Sprintf("%s is written by %s.", desc, orUnknown(writer))
	for _, m := range managers {
		want := map[string]string{"systemd-resolved": "systemd-resolved", "resolvconf": "resolvconf", "resolv.conf": "wgtray"}[m]
		if want != "" && writer != want && !(m == "resolvconf" && writer == "systemd-resolved") {
			c.Verdict = ipc.VerdictWarning
			c.Summary = fmt.Sprintf("%s is written by %s, but the tunnel's DNS was given to %s: programs that read the file ask the servers it names instead.",
				desc, orUnknown(writer), m)
			c.Fix = fmt.Sprintf("Let %s manage /etc/resolv.conf, or start wgtray-helper with --dns set to the manager that does.", m)
		}
	}
	if rc.Missing {
		c.Verdict = ipc.VerdictWarning
		c.Summary = rc.Path + " does not exist: programs that read it cannot resolve names."
		c.Fix = "Restore /etc/resolv.conf."
	}
	return c
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown program (or by hand)"
	}
	return s
}

// nftablesCheck looks at the other programs' nftables tables: one that
// sets a tunnel's fwmark makes its packets skip the tunnel, one whose
// base chain drops by default may drop the tunnel's traffic.
func nftablesCheck(sys *System, tunnels []Tunnel) ipc.Check {
	c := ipc.Check{ID: "conflicts.nftables", Group: ipc.GroupConflicts, Verdict: ipc.VerdictOK}
	others := 0
	for _, nt := range sys.NFTables {
		if strings.HasPrefix(nt.Name, "wgtray") || nt.Family == "inet" && nt.Name == mullvadTableName {
			continue // ours, and Mullvad's has its own check
		}
		others++
		for _, m := range nt.SetsMarks {
			for _, t := range tunnels {
				if t.FullTunnel && m == t.Table {
					c.Verdict = ipc.VerdictProblem
					c.Details = append(c.Details, fmt.Sprintf("table %s %s sets fwmark %#x, WireGuard's own mark for %s: the packets it marks skip the tunnel", nt.Family, nt.Name, m, t.Name))
				}
			}
		}
		for _, h := range nt.DropHooks {
			if c.Verdict == ipc.VerdictOK {
				c.Verdict = ipc.VerdictWarning
			}
			c.Details = append(c.Details, fmt.Sprintf("table %s %s drops by default at hook %s: unless it accepts the tunnel's interface, traffic through the tunnel is dropped", nt.Family, nt.Name, h))
		}
	}
	switch {
	case c.Verdict == ipc.VerdictProblem:
		c.Summary = "Another program's nftables rules mark packets as WireGuard's own, so they go around the tunnel: " + firstProblemMark(c.Details) + "."
		c.Fix = "Remove that rule, or give the tunnel another FwMark."
	case c.Verdict == ipc.VerdictWarning:
		c.Summary = "Another program's firewall drops by default: " + c.Details[0] + "."
		c.Fix = "Make sure it accepts traffic on the tunnel's interface (`nft list ruleset`)."
	default:
		c.Summary = fmt.Sprintf("%d nftables table(s) of other programs; none marks packets as WireGuard's or drops by default.", others)
	}
	return c
}

func firstProblemMark(details []string) string {
	for _, d := range details {
		if strings.Contains(d, "sets fwmark") {
			return d
		}
	}
	return details[0]
}
