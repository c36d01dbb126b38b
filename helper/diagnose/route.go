package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// Lookup is the kernel's answer to RTM_GETROUTE for one packet: the
// route it would use (Dev, Via, Src, Table), and with RTM_F_FIB_MATCH
// the entry of the table that matched (Prefix, Proto, Type). Err is the
// kernel's refusal, such as "network is unreachable", when it would not
// route the packet.
type Lookup struct {
	Type   string
	Table  uint32
	Dev    string
	Via    netip.Addr
	Src    netip.Addr
	Prefix netip.Prefix
	Proto  string
	Err    string
}

// decisiveRule names the rule that made the kernel pick lk for p: the
// first rule that selects p and looks up lk's table without a
// suppress_prefixlength that rejects lk's prefix. The kernel does not
// say which rule it used; its answer's table and prefix do, once the
// rules are read in the kernel's order. For a refused packet, which
// carries no table, the first selecting rule whose table's longest match
// is a reject route, or that is itself unreachable, is the one. ok is
// false when no rule fits (a goto or nop rule in the way, or the rules
// changed between the dump and the lookup).
func decisiveRule(p Packet, lk Lookup, rules []Rule, routes []RouteEntry) (Rule, bool) {
	for _, r := range rules {
		if r.Family != family(p.Dst) || !r.matches(p) {
			continue
		}
		switch r.Action {
		case actToTable:
			if lk.Err == "" {
				if r.Table == lk.Table && (r.SuppressPrefixlen < 0 || lk.Prefix.Bits() > r.SuppressPrefixlen) {
					return r, true
				}
				continue
			}
			if e, ok := longestMatch(routes, r.Table, p.Dst); ok && e.Type != "unicast" && e.Type != "local" {
				return r, true
			}
		case actUnreachable, actBlackhole, actProhibit:
			if lk.Err != "" {
				return r, true
			}
		}
	}
	return Rule{}, false
}

// longestMatch is the entry of table that covers a with the longest
// prefix, used only to name the rule of a refused packet.
func longestMatch(routes []RouteEntry, table uint32, a netip.Addr) (RouteEntry, bool) {
	var best RouteEntry
	found := false
	for _, e := range routes {
		if e.Table == table && e.Dst.IsValid() && e.Dst.Contains(a) && (!found || e.Dst.Bits() > best.Dst.Bits()) {
			best, found = e, true
		}
	}
	return best, found
}

// ruleWords says in plain words what a rule does.
func ruleWords(r Rule, tunnels []Tunnel) string {
	for _, t := range tunnels {
		if !t.ownsRule(r) {
			continue
		}
		if r.Invert && r.Mask != 0 {
			return fmt.Sprintf("everything without WireGuard's mark uses table %s", TableName(r.Table))
		}
		if r.Table == tableMain && r.SuppressPrefixlen == 0 {
			return "wg-quick's suppress rule: the main table decides, except with its default route"
		}
	}
	switch {
	case r.Action == actToTable && r.Table == tableLocal && r.Priority == 0:
		return "the local table, this machine's own addresses"
	case r.Action == actToTable && r.Table == tableMain && r.Priority == 32766 && r.selectsAll():
		return "the main table"
	case r.Action == actToTable && r.Table == tableDefault && r.Priority == 32767 && r.selectsAll():
		return "the default table"
	}
	who := "every packet"
	if !r.selectsAll() {
		who = "packets " + strings.TrimPrefix(r.String(), "from all ")
		if i := strings.LastIndex(who, " lookup "); i >= 0 {
			who = who[:i]
		}
		for _, a := range []string{" unreachable", " blackhole", " prohibit"} {
			who = strings.TrimSuffix(who, a)
		}
		who = strings.TrimSuffix(who, " suppress_prefixlength "+fmt.Sprint(r.SuppressPrefixlen))
	}
	switch r.Action {
	case actToTable:
		s := who + " use table " + TableName(r.Table)
		if who == "every packet" {
			s = who + " uses table " + TableName(r.Table)
		}
		if r.SuppressPrefixlen >= 0 {
			s += fmt.Sprintf(", except its routes of prefix length %d or less", r.SuppressPrefixlen)
		}
		return s
	case actUnreachable, actBlackhole, actProhibit:
		return who + " are dropped"
	}
	return r.String()
}

// selectsAll reports whether r has no selector at all.
func (r Rule) selectsAll() bool {
	return !r.Invert && r.Mask == 0 && (!r.Src.IsValid() || r.Src.Bits() == 0) && (!r.Dst.IsValid() || r.Dst.Bits() == 0) &&
		r.Iif == "" && r.Oif == "" && r.IPProto == 0 && r.Sport == [2]uint16{} && r.Dport == [2]uint16{} && r.UID == nil && !r.Other
}

// tunnelOfDev returns the tunnel whose interface dev is.
func tunnelOfDev(tunnels []Tunnel, dev string) *Tunnel {
	for i := range tunnels {
		if tunnels[i].Name == dev {
			return &tunnels[i]
		}
	}
	return nil
}

// fullFor returns the first full tunnel that carries or blocks fam.
func fullFor(tunnels []Tunnel, fam int) *Tunnel {
	for i := range tunnels {
		t := &tunnels[i]
		if t.FullTunnel && (t.carries(fam) || t.blocks(fam)) {
			return t
		}
	}
	return nil
}

// Explain turns the kernel's answer for p into a Hop with its sentence.
func Explain(p Packet, lk Lookup, sys *System, tunnels []Tunnel) ipc.Hop {
	h := ipc.Hop{Mark: p.Mark, Type: lk.Type, Table: lk.Table, Dev: lk.Dev, RouteBy: lk.Proto, Error: lk.Err}
	if lk.Via.IsValid() {
		h.Via = lk.Via.String()
	}
	if lk.Src.IsValid() {
		h.Src = lk.Src.String()
	}
	if lk.Prefix.IsValid() {
		h.Prefix = prefixName(lk.Prefix)
	}
	rules := slices.Clone(sys.Rules)
	slices.SortStableFunc(rules, func(a, b Rule) int { return int(a.Priority) - int(b.Priority) })
	rule, ruleOK := decisiveRule(p, lk, rules, sys.Routes)
	because := ""
	if ruleOK {
		h.RulePriority, h.Rule = rule.Priority, rule.String()
		because = fmt.Sprintf("rule %d: %s", rule.Priority, ruleWords(rule, tunnels))
	}
	paren := func() string {
		if because == "" {
			return ""
		}
		return " (" + because + ")"
	}
	dest := p.Dst.String()
	if p.Src.IsValid() {
		dest = fmt.Sprintf("%s (from %s)", p.Dst, p.Src)
	}
	if p.Mark != 0 {
		dest = fmt.Sprintf("WireGuard's own packets to %s (fwmark %#x)", p.Dst, p.Mark)
	}
	goes := " goes"
	if p.Mark != 0 {
		goes = " go"
	}
	full := fullFor(tunnels, family(p.Dst))
	if t := tunnelOfDev(tunnels, lk.Dev); t != nil {
		h.Tunnel = t.Name
	}
	switch {
	case lk.Err != "":
		e, _ := longestMatch(sys.Routes, rule.Table, p.Dst)
		if ruleOK && rule.Action == actToTable && full != nil && full.Table == rule.Table && full.blocks(family(p.Dst)) {
			h.Sentence = fmt.Sprintf("%s is blocked while %s is connected: the leak guard's %s route %s in table %s%s",
				dest, full.Name, e.Type, prefixName(e.Dst), TableName(rule.Table), paren())
		} else {
			h.Sentence = fmt.Sprintf("%s cannot be reached: the kernel answers %q%s", dest, lk.Err, paren())
		}
	case lk.Type == "local":
		h.Sentence = fmt.Sprintf("%s is an address of this machine%s", p.Dst, paren())
	case h.Tunnel != "":
		h.Sentence = fmt.Sprintf("%s%s through tunnel %s%s", dest, goes, h.Tunnel, paren())
	case p.Mark != 0:
		h.Sentence = fmt.Sprintf("%s%s via %s%s", dest, goes, devGateway(lk), paren())
	case full != nil && ruleOK && full.ownsRule(rule) && rule.Table == tableMain:
		h.Sentence = fmt.Sprintf("%s goes around the tunnel via %s: the main table has a more specific route %s (added by proto %s), which wg-quick's suppress rule lets through",
			dest, lk.Dev, prefixName(lk.Prefix), lk.Proto)
	case full != nil && ruleOK && !full.ownsRule(rule) && rule.Priority < full.firstPref(family(p.Dst)):
		h.Sentence = fmt.Sprintf("%s goes around the tunnel via %s: rule %d (%s) comes before the tunnel's rules, and table %s has the route %s",
			dest, lk.Dev, rule.Priority, ruleWords(rule, tunnels), TableName(lk.Table), prefixName(lk.Prefix))
	case full != nil:
		h.Sentence = fmt.Sprintf("%s goes around the tunnel via %s%s", dest, devGateway(lk), paren())
	default:
		h.Sentence = fmt.Sprintf("%s goes via %s%s", dest, devGateway(lk), paren())
	}
	return h
}

// devGateway is "eth0", or "eth0 (gateway 192.0.2.1)".
func devGateway(lk Lookup) string {
	if lk.Via.IsValid() {
		return fmt.Sprintf("%s (gateway %s)", lk.Dev, lk.Via)
	}
	return lk.Dev
}
