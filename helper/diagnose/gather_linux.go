package diagnose

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/vishvananda/netlink"

	"github.com/wgtray/wgtray/ipc"
)

// Gatherer reads the machine and runs the checks, in the network
// namespace of the calling process.
type Gatherer struct {
	// ResolvConf is normally /etc/resolv.conf, and NetworkdConf
	// /etc/systemd/networkd.conf (its .conf.d directories are read too).
	ResolvConf   string
	NetworkdConf string
	// Bus returns a system bus connection, for systemd-resolved's state
	// and the other tools' names; nil or an error skips those.
	Bus func() (*dbus.Conn, error)
	// Resolver resolves the peers' endpoint names again.
	Resolver *net.Resolver
	Now      func() time.Time
	Logger   *log.Logger
	// ProbeTimeout bounds each active probe (ipc.ProbeTimeout when 0).
	ProbeTimeout time.Duration

	// probes lets one caller's active probes run at a time: they measure
	// the network, and two at once would measure each other. A caller
	// waits for its turn no longer than its context allows.
	probesOnce sync.Once
	probes     chan struct{}
}

// NewGatherer returns a Gatherer of the machine's usual files.
func NewGatherer(bus func() (*dbus.Conn, error), logger *log.Logger) *Gatherer {
	return &Gatherer{ResolvConf: "/etc/resolv.conf", NetworkdConf: "/etc/systemd/networkd.conf", Bus: bus,
		Resolver: net.DefaultResolver, Now: time.Now, Logger: logger}
}

// Run diagnoses the connected tunnels and the machine. uid is the
// caller's, so that rules selecting by uidrange decide as they would
// for the caller's own packets.
func (g *Gatherer) Run(ctx context.Context, tunnels []Tunnel, opts ipc.DiagnoseOptions, uid uint32) ipc.Report {
	rep := ipc.Report{}
	for _, t := range tunnels {
		rep.Tunnels = append(rep.Tunnels, t.Name)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		rep.Checks = append(rep.Checks, ipc.Check{ID: "system.netlink", Group: ipc.GroupRoute, Verdict: ipc.VerdictProblem,
			Summary: fmt.Sprintf("Cannot open netlink: %v.", err)})
		return rep
	}
	defer h.Close()
	sys := g.system(ctx, h)
	names := map[int]string{}
	for _, l := range sys.Links {
		names[l.Index] = l.Name
	}
	linkName := func(i int) string {
		if n, ok := names[i]; ok {
			return n
		}
		return fmt.Sprintf("if%d", i)
	}
	explain := func(p Packet) ipc.Hop {
		p.UID = uid
		lk, err := lookupBoth(p, linkName)
		if err != nil {
			return ipc.Hop{Mark: p.Mark, Error: err.Error(), Sentence: fmt.Sprintf("The kernel could not be asked about %s: %v", p.Dst, err)}
		}
		// A connecting socket looks the route up again once it has its
		// source address (ip_route_connect): where rules select by
		// source, that second answer is the one its packets follow.
		if lk.Err == "" && lk.Src.IsValid() && hasSourceRules(sys, family(p.Dst)) {
			p.Src = lk.Src
			if lk2, err := lookupBoth(p, linkName); err == nil {
				lk = lk2
			}
		}
		return Explain(p, lk, sys, tunnels)
	}
	if len(sys.Errors) > 0 {
		rep.Checks = append(rep.Checks, ipc.Check{ID: "system.read", Group: ipc.GroupConflicts, Verdict: ipc.VerdictWarning,
			Summary: "Some of the machine's state could not be read; the checks below may miss something.", Details: sys.Errors})
	}
	if opts.Route.IsValid() {
		rep.Routes = append(rep.Routes, g.route(opts, tunnels, explain))
		return rep
	}

	servers, source := dnsServers(sys)
	for i := range tunnels {
		t := &tunnels[i]
		if !t.FullTunnel {
			continue
		}
		rep.Checks = append(rep.Checks, leakChecks(t, sys, explain, servers, source)...)
		rep.Checks = append(rep.Checks, guardCheck(t))
	}
	rep.Checks = append(rep.Checks, conflictChecks(sys, tunnels, explain)...)

	var resolved []map[int]Resolved
	g.probesOnce.Do(func() { g.probes = make(chan struct{}, 1) })
	if opts.Active {
		select {
		case g.probes <- struct{}{}:
			defer func() { <-g.probes }()
		case <-ctx.Done():
			rep.Checks = append(rep.Checks, ipc.Check{ID: "probes.skipped", Group: ipc.GroupMTU, Verdict: ipc.VerdictWarning,
				Summary: "The active probes did not run: another check's probes were running until this one's time ran out.",
				Fix:     "Run wgtray doctor again."})
			opts.Active = false
		}
	}
	if opts.Active {
		timeout := cmp.Or(g.ProbeTimeout, ipc.ProbeTimeout)
		if full := firstFull(tunnels); full != nil {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			pr := probeDNS(pctx, probeServers(g.ResolvConf))
			cancel()
			rep.Checks = append(rep.Checks, dnsProbeCheck(full, pr, explain))
		}
		for i := range tunnels {
			t := &tunnels[i]
			host, why := pickMTUHost(t, opts.MTUHost)
			var r MTUResult
			if host.IsValid() {
				pctx, cancel := context.WithTimeout(ctx, timeout)
				r = probeMTU(pctx, host, linkMTU(sys, t.Name))
				cancel()
				if hop := explain(Packet{Dst: host}); hop.Tunnel != t.Name && r.Err == "" {
					r = MTUResult{Host: host, Err: fmt.Sprintf("%s is not reached through %s (%s)", host, t.Name, hop.Sentence)}
				}
			}
			rep.Checks = append(rep.Checks, mtuCheck(t, r, why))
		}
		for i := range tunnels {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			resolved = append(resolved, g.resolveEndpoints(pctx, &tunnels[i]))
			cancel()
		}
	}
	for i := range tunnels {
		var res map[int]Resolved
		if i < len(resolved) {
			res = resolved[i]
		}
		rep.Checks = append(rep.Checks, healthChecks(&tunnels[i], g.Now(), res)...)
	}
	return rep
}

// probeServers are the servers the C library asks: resolv.conf's,
// read now.
func probeServers(path string) []netip.Addr { return readResolvConf(path).Servers }

func hasSourceRules(sys *System, fam int) bool {
	for _, r := range sys.Rules {
		if r.Family == fam && r.Src.IsValid() && r.Src.Bits() > 0 {
			return true
		}
	}
	return false
}

func firstFull(tunnels []Tunnel) *Tunnel {
	for i := range tunnels {
		if tunnels[i].FullTunnel {
			return &tunnels[i]
		}
	}
	return nil
}

func linkMTU(sys *System, name string) int {
	for _, l := range sys.Links {
		if l.Name == name {
			return l.MTU
		}
	}
	return 1420
}

// route is the route explainer's answer for opts.Route: an ordinary
// packet, and one with the fwmark of the full tunnel of its family.
func (g *Gatherer) route(opts ipc.DiagnoseOptions, tunnels []Tunnel, explain Explainer) ipc.Route {
	p := Packet{Dst: opts.Route, Port: opts.Port}
	switch opts.Proto {
	case "tcp":
		p.Proto = 6
	case "udp":
		p.Proto = 17
	}
	r := ipc.Route{Dest: opts.Route.String(), Proto: opts.Proto, Port: opts.Port, Ordinary: explain(p)}
	if t := fullFor(tunnels, family(opts.Route)); t != nil && t.Table != 0 {
		m := p
		m.Mark = t.Table
		hop := explain(m)
		r.Marked = &hop
	}
	return r
}

// dnsServers are the servers the system resolver uses, and where that
// was read.
func dnsServers(sys *System) ([]netip.Addr, string) {
	stub := netip.MustParseAddr("127.0.0.53")
	if sys.Resolved != nil && (len(sys.ResolvConf.Servers) == 0 || slices.Contains(sys.ResolvConf.Servers, stub) || sys.ResolvConf.Writer == "systemd-resolved") {
		return sys.Resolved.Servers(), "systemd-resolved"
	}
	return sys.ResolvConf.Servers, sys.ResolvConf.Path
}

func (g *Gatherer) resolveEndpoints(ctx context.Context, t *Tunnel) map[int]Resolved {
	out := map[int]Resolved{}
	for i, p := range t.Peers {
		if p.Host == "" {
			continue
		}
		if _, err := netip.ParseAddr(p.Host); err == nil {
			continue
		}
		addrs, err := g.Resolver.LookupNetIP(ctx, "ip", p.Host)
		if err != nil {
			out[i] = Resolved{Err: err.Error()}
			continue
		}
		out[i] = Resolved{Addrs: addrs}
	}
	return out
}

// system reads what the checks need. What cannot be read is noted in
// Errors and left empty.
func (g *Gatherer) system(ctx context.Context, h *netlink.Handle) *System {
	sys := &System{BusNames: map[string]bool{}}
	note := func(err error) {
		if err != nil {
			sys.Errors = append(sys.Errors, err.Error())
		}
	}
	var err error
	sys.Links, err = readLinks(h)
	note(err)
	names := map[int]string{}
	for _, l := range sys.Links {
		names[l.Index] = l.Name
	}
	linkName := func(i int) string { return names[i] }
	sys.Rules, err = readRules(h)
	note(err)
	sys.Routes, err = readRoutes(h, linkName)
	note(err)
	sys.NFTables, err = readNFTables()
	note(err)
	sys.ResolvConf = readResolvConf(g.ResolvConf)
	sys.NetworkdForeignRules, sys.NetworkdConf = networkdForeignRules(g.NetworkdConf)
	if g.Bus != nil {
		if bus, err := g.Bus(); err == nil {
			bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			for _, n := range []string{busNetworkd, busFirewall, busNM, busResolved} {
				var has bool
				if err := bus.BusObject().CallWithContext(bctx, "org.freedesktop.DBus.NameHasOwner", 0, n).Store(&has); err == nil {
					sys.BusNames[n] = has
				}
			}
			if sys.BusNames[busResolved] {
				sys.Resolved, err = readResolved(bctx, bus, linkName)
				note(err)
			}
		} else if g.Logger != nil {
			g.Logger.Printf("diagnose: no system bus: %v", err)
		}
	}
	return sys
}

// networkdForeignRules reads ManageForeignRoutingPolicyRules from
// networkd.conf and its drop-ins, in systemd's order: the file, then
// the drop-ins by name, the last setting winning.
func networkdForeignRules(conf string) (bool, string) {
	val, from := true, ""
	files := []string{conf}
	var drops []string
	for _, dir := range []string{"/usr/lib/systemd/networkd.conf.d", "/run/systemd/networkd.conf.d", conf + ".d"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		drops = append(drops, m...)
	}
	slices.SortFunc(drops, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	for _, f := range append(files, drops...) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		section := ""
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "[") {
				section = line
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || section != "[Network]" || strings.TrimSpace(k) != "ManageForeignRoutingPolicyRules" {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "no", "false", "0", "off":
				val, from = false, f
			case "yes", "true", "1", "on":
				val, from = true, f
			}
		}
	}
	return val, from
}
