package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/ipc"
)

// Diagnoser is the helper's Diagnose, which *ipc.Client has.
type Diagnoser interface {
	Diagnose(ctx context.Context, name string, o ipc.DiagnoseOptions) (ipc.Report, error)
}

// DoctorTimeout is how long `wgtray doctor` waits for the helper: its
// active probes take up to ipc.ProbeTimeout each, a few per tunnel.
const DoctorTimeout = 90 * time.Second

const doctorUsage = `Usage: wgtray doctor [--json] [--no-probes] [--mtu-host ADDR] [NAME]
       wgtray doctor route [--json] [--port N] [--proto tcp|udp] DEST

Check the connected tunnels (or tunnel NAME) and this machine: leaks
around the tunnel (default routes, DNS), other tools' rules, tables and
firewalls that conflict, the path MTU through the tunnel, and the peers'
health. With "route", explain where a packet to DEST goes and why.
Exit status: 0 when no check finds a problem, 1 when one does.
`

// runDoctor is `wgtray doctor`.
func runDoctor(ctx context.Context, e Env, args []string) int {
	route := len(args) > 0 && args[0] == "route"
	if route {
		args = args[1:]
	}
	fs := flag.NewFlagSet("wgtray doctor", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	var port uint
	var proto, mtuHost string
	var noProbes bool
	if route {
		fs.UintVar(&port, "port", 0, "the destination `port` (needs --proto)")
		fs.StringVar(&proto, "proto", "", "the `protocol`: tcp or udp")
	} else {
		fs.StringVar(&mtuHost, "mtu-host", "", "the `address` the MTU probe pings through the tunnel (default: the tunnel's DNS server or first subnet address)")
		fs.BoolVar(&noProbes, "no-probes", false, "skip the active probes (the test DNS query, the MTU pings, endpoint resolution)")
	}
	fs.Usage = func() {
		fmt.Fprint(e.Stderr, doctorUsage+"\n")
		fs.PrintDefaults()
	}
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if (route && len(pos) != 1) || (!route && len(pos) > 1) {
		fs.Usage()
		return 2
	}
	var opts ipc.DiagnoseOptions
	name := ""
	timeout := DoctorTimeout
	if e.Timeout > 0 {
		timeout = e.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if route {
		if proto != "" && proto != "tcp" && proto != "udp" {
			fmt.Fprintf(e.Stderr, "wgtray: --proto %q: want tcp or udp\n", proto)
			return 2
		}
		if port > 65535 || (port != 0 && proto == "") {
			fmt.Fprintln(e.Stderr, "wgtray: --port wants a number up to 65535, and --proto")
			return 2
		}
		a, err := addrOf(ctx, e, pos[0])
		if err != nil {
			fmt.Fprintf(e.Stderr, "wgtray: %v\n", err)
			return 2
		}
		opts.Route, opts.Port, opts.Proto = a, uint16(port), proto
	} else {
		if len(pos) == 1 {
			name = pos[0]
			if err := ipc.ValidName(name); err != nil {
				fmt.Fprintf(e.Stderr, "wgtray: %q: %v\n", name, err)
				return 2
			}
		}
		if mtuHost != "" {
			a, err := addrOf(ctx, e, mtuHost)
			if err != nil {
				fmt.Fprintf(e.Stderr, "wgtray: --mtu-host: %v\n", err)
				return 2
			}
			opts.MTUHost = a
		}
		opts.Active = !noProbes
	}
	rep, err := func() (ipc.Report, error) {
		h, closeFn, err := e.Dial(ctx)
		if err != nil {
			return ipc.Report{}, err
		}
		defer closeFn()
		d, ok := h.(Diagnoser)
		if !ok {
			return ipc.Report{}, errors.New("this helper connection cannot diagnose")
		}
		clear := func() {}
		if opts.Active {
			clear = progress(e.Stderr, "checking: a test DNS query, MTU pings and the endpoints, at most "+present.Wait(ipc.ProbeTimeout)+" each…")
		}
		defer clear()
		return d.Diagnose(ctx, name, opts)
	}()
	if err != nil {
		why := hint(err)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			why = "wgtray-helper did not answer within " + present.Wait(timeout)
		}
		fmt.Fprintf(e.Stderr, "wgtray: doctor: %s\n", why)
		return 1
	}
	if *jsonOut {
		if err := printJSON(e.Stdout, rep); err != nil {
			fmt.Fprintf(e.Stderr, "wgtray: %v\n", err)
			return 1
		}
	} else if route {
		writeRoutes(e.Stdout, rep)
	} else {
		present.WriteReport(e.Stdout, rep)
	}
	if rep.Worst() == ipc.VerdictProblem {
		return 1
	}
	return 0
}

// addrOf is s as an address, or the first address its name resolves to
// (resolved here, as the caller: the helper takes addresses only).
func addrOf(ctx context.Context, e Env, s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is neither an address nor a name that resolves: %v", s, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%q resolves to no address", s)
	}
	fmt.Fprintf(e.Stderr, "%s is %s\n", s, addrs[0].Unmap())
	return addrs[0].Unmap(), nil
}

// progress writes a progress line to w and returns what erases it: on a
// terminal the line is overwritten, elsewhere it stays as a log line.
func progress(w io.Writer, msg string) func() {
	f, ok := w.(*os.File)
	tty := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	if tty {
		fmt.Fprint(w, msg)
		return func() { fmt.Fprint(w, "\r\033[K") }
	}
	fmt.Fprintln(w, msg)
	return func() {}
}

func writeRoutes(w io.Writer, rep ipc.Report) {
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "%s: %s\n", c.Verdict, c.Summary)
	}
	for _, r := range rep.Routes {
		for _, h := range []*ipc.Hop{&r.Ordinary, r.Marked} {
			if h == nil {
				continue
			}
			fmt.Fprintln(w, h.Sentence)
			var facts []string
			if h.Prefix != "" {
				facts = append(facts, "route "+h.Prefix)
			}
			if h.Dev != "" {
				facts = append(facts, "dev "+h.Dev)
			}
			if h.Via != "" {
				facts = append(facts, "via "+h.Via)
			}
			if h.Src != "" {
				facts = append(facts, "src "+h.Src)
			}
			if h.Table != 0 {
				facts = append(facts, fmt.Sprintf("table %d", h.Table))
			}
			if h.RouteBy != "" {
				facts = append(facts, "proto "+h.RouteBy)
			}
			if h.Rule != "" {
				facts = append(facts, fmt.Sprintf("rule %d: %s", h.RulePriority, h.Rule))
			}
			if len(facts) > 0 {
				fmt.Fprintf(w, "  %s\n", strings.Join(facts, ", "))
			}
		}
	}
}
