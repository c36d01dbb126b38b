package ipc

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/godbus/dbus/v5"
)

// MethodDiagnose is Diagnose(s name, a{sv} options) → s report: the
// checks of `wgtray doctor` for the connected tunnel name, or for every
// connected tunnel and the machine when name is "". The report is JSON,
// decoded by ParseReport. It changes nothing and anyone may call it: it
// tells what `ip rule`, `ip route` and `nft list tables` tell anyone,
// never a key or a config's text. The options are DiagnoseOptions.
const MethodDiagnose = "Diagnose"

// DiagnoseOptions are the options of Diagnose, an a{sv} on the wire.
type DiagnoseOptions struct {
	// Route, when valid, asks only for the route explainer on this
	// address (key Route, s).
	Route netip.Addr
	// Port and Proto are the destination port and protocol ("tcp",
	// "udp"; "" for none) of the packet to explain (keys Port, q, and
	// Proto, s): rules can select by them.
	Port  uint16
	Proto string
	// MTUHost is the address the path-MTU probe pings through the tunnel
	// (key MTUHost, s); when not valid the helper picks one.
	MTUHost netip.Addr
	// Active runs the probes that send packets: the DNS query and the
	// path-MTU probe, each bounded at ProbeTimeout (key Active, b).
	Active bool
}

// ProbeTimeout bounds each active probe of Diagnose.
const ProbeTimeout = 5 * time.Second

// ToMap encodes the options; keys of zero values are left out.
func (o DiagnoseOptions) ToMap() map[string]dbus.Variant {
	m := map[string]dbus.Variant{}
	if o.Route.IsValid() {
		m["Route"] = dbus.MakeVariant(o.Route.String())
	}
	if o.Port != 0 {
		m["Port"] = dbus.MakeVariant(o.Port)
	}
	if o.Proto != "" {
		m["Proto"] = dbus.MakeVariant(o.Proto)
	}
	if o.MTUHost.IsValid() {
		m["MTUHost"] = dbus.MakeVariant(o.MTUHost.String())
	}
	if o.Active {
		m["Active"] = dbus.MakeVariant(true)
	}
	return m
}

// DiagnoseOptionsFromMap decodes the options of Diagnose. Unlike Status,
// an unknown key is an error (ErrInvalidArgs): an option the helper does
// not know would silently check something else than was asked.
func DiagnoseOptionsFromMap(m map[string]dbus.Variant) (DiagnoseOptions, error) {
	var o DiagnoseOptions
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	addr := func(k string, v dbus.Variant, dst *netip.Addr) error {
		var s string
		if err := take(k, v, &s); err != nil {
			return err
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("option %s: %q is not an IP address", k, s)
		}
		*dst = a.Unmap()
		return nil
	}
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "Route":
			err = addr(k, v, &o.Route)
		case "MTUHost":
			err = addr(k, v, &o.MTUHost)
		case "Port":
			err = take(k, v, &o.Port)
		case "Proto":
			if err = take(k, v, &o.Proto); err == nil && o.Proto != "tcp" && o.Proto != "udp" {
				err = fmt.Errorf("option Proto: %q is neither tcp nor udp", o.Proto)
			}
		case "Active":
			err = take(k, v, &o.Active)
		default:
			err = fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return DiagnoseOptions{}, fmt.Errorf("%w: %v", ErrInvalidArgs, err)
		}
	}
	if o.Port != 0 && o.Proto == "" {
		return DiagnoseOptions{}, fmt.Errorf("%w: option Port needs Proto (tcp or udp)", ErrInvalidArgs)
	}
	return o, nil
}

// Verdict is a check's outcome.
type Verdict string

// The verdicts, from best to worst.
const (
	VerdictOK      Verdict = "ok"
	VerdictWarning Verdict = "warning"
	VerdictProblem Verdict = "problem"
)

// rank orders verdicts, worst last.
func (v Verdict) rank() int {
	switch v {
	case VerdictProblem:
		return 2
	case VerdictWarning:
		return 1
	}
	return 0
}

// The groups of checks, as the issue numbers them.
const (
	GroupRoute     = "route"
	GroupLeaks     = "leaks"
	GroupConflicts = "conflicts"
	GroupMTU       = "mtu"
	GroupHealth    = "health"
)

// Check is one finding of Diagnose.
type Check struct {
	// ID names the check, stable for scripts: "leaks.ipv6-default",
	// "conflicts.tailscale", ….
	ID    string `json:"id"`
	Group string `json:"group"`
	// Tunnel is the tunnel the check is about; "" for the machine.
	Tunnel  string  `json:"tunnel,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Summary is one sentence of what it means for the user.
	Summary string `json:"summary"`
	// Fix says what to do, for a warning or a problem.
	Fix string `json:"fix,omitempty"`
	// Details are the facts behind the verdict, one per line.
	Details []string `json:"details,omitempty"`
}

// Hop is the kernel's answer for one packet: the route it picked and
// the rule that led there.
type Hop struct {
	// Mark is the packet's fwmark: 0 for an ordinary packet, the
	// tunnel's for WireGuard's own encrypted packets.
	Mark uint32 `json:"mark"`
	// Type is the route's type: "unicast", "local", "unreachable",
	// "blackhole", "prohibit", ….
	Type    string `json:"type"`
	Table   uint32 `json:"table"`
	Dev     string `json:"dev,omitempty"`
	Via     string `json:"via,omitempty"`
	Src     string `json:"src,omitempty"`
	Prefix  string `json:"prefix,omitempty"`  // the route that matched, from RTM_F_FIB_MATCH
	RouteBy string `json:"routeBy,omitempty"` // who added it: its protocol ("kernel", "dhcp", "boot", …)
	// RulePriority and Rule are the rule that decided, as `ip rule`
	// shows it; Rule is "" when none could be named.
	RulePriority uint32 `json:"rulePriority"`
	Rule         string `json:"rule,omitempty"`
	// Tunnel is the wgtray tunnel whose interface Dev is, if any.
	Tunnel string `json:"tunnel,omitempty"`
	// Error is the kernel's error for a packet it would not route.
	Error string `json:"error,omitempty"`
	// Sentence says it in plain words.
	Sentence string `json:"sentence"`
}

// Route is the route explainer's answer for one destination.
type Route struct {
	Dest  string `json:"dest"`
	Proto string `json:"proto,omitempty"`
	Port  uint16 `json:"port,omitempty"`
	// Ordinary is an ordinary packet's route; Marked that of a packet
	// with a tunnel's fwmark (WireGuard's own), when a full tunnel is up.
	Ordinary Hop  `json:"ordinary"`
	Marked   *Hop `json:"marked,omitempty"`
}

// Report is the reply of Diagnose.
type Report struct {
	// Tunnels are the connected tunnels the report is about.
	Tunnels []string `json:"tunnels"`
	Checks  []Check  `json:"checks"`
	Routes  []Route  `json:"routes,omitempty"`
}

// Worst returns the worst verdict of the report, VerdictOK when it has
// no check.
func (r Report) Worst() Verdict {
	w := VerdictOK
	for _, c := range r.Checks {
		if c.Verdict.rank() > w.rank() {
			w = c.Verdict
		}
	}
	return w
}

// Sorted returns the checks worst first, in their order otherwise.
func (r Report) Sorted() []Check {
	out := append([]Check(nil), r.Checks...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Verdict.rank() > out[j].Verdict.rank() })
	return out
}

// ParseReport decodes the report of Diagnose.
func ParseReport(s string) (Report, error) {
	var r Report
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return Report{}, fmt.Errorf("diagnosis report: %w", err)
	}
	return r, nil
}

// Encode is the report as Diagnose sends it.
func (r Report) Encode() (string, error) {
	if r.Tunnels == nil {
		r.Tunnels = []string{}
	}
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode diagnosis report: %w", err)
	}
	return string(b), nil
}
