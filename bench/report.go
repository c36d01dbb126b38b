package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is one bench run: the machine, the settings, and one row per
// metric, as written to the Markdown and JSON files.
type Report struct {
	Date     string   `json:"date"`
	Duration string   `json:"duration"`
	Machine  Machine  `json:"machine"`
	Settings Settings `json:"settings"`
	Rows     []Row    `json:"metrics"`
	Soak     Soak     `json:"soak"`
	Profile  string   `json:"profile,omitempty"`
	// TputProfile is perf's summary of one download through the helper
	// and through the current wireguard-go.
	TputProfile string `json:"throughput_profile,omitempty"`
	// ConnectSteps and DisconnectSteps are where the latency cycles'
	// calls spent their time (breakdown.go).
	ConnectSteps    []BreakdownStep `json:"connect_steps,omitempty"`
	DisconnectSteps []BreakdownStep `json:"disconnect_steps,omitempty"`
}

// Machine is what the bench ran on.
type Machine struct {
	CPU       string            `json:"cpu"`
	Cores     int               `json:"cores"`
	Kernel    string            `json:"kernel"`
	OS        string            `json:"os"`
	MemoryGiB float64           `json:"memory_gib"`
	Packages  map[string]string `json:"packages"` // Debian package → version
	Helper    string            `json:"helper_version"`
	// LoadStart and LoadEnd are /proc/loadavg when the run started and
	// ended: other work on the machine shows in every figure.
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

// Settings are the bench's flags.
type Settings struct {
	Iterations   int    `json:"iterations"`
	SoakCycles   int    `json:"soak_cycles"`
	IperfRuns    int    `json:"iperf_runs"`
	IperfSeconds int    `json:"iperf_seconds"`
	IdleWindow   string `json:"idle_window"`
	// HelperEnv is what -helper-env added to the helper's environment.
	HelperEnv []string `json:"helper_env,omitempty"`
	// LatencyOnly is -latency-only: only the latency rows were measured.
	LatencyOnly bool `json:"latency_only,omitempty"`
}

// Row is one metric: wgtray's figures, those of what it is compared
// with, their ratio, and the target.
type Row struct {
	ID         string  `json:"id"`
	Group      string  `json:"group"`
	Metric     string  `json:"metric"`
	Unit       string  `json:"unit"`
	Subject    string  `json:"subject"`
	Value      *Stats  `json:"value"` // nil when not measured
	Reference  string  `json:"reference,omitempty"`
	Ref        *Stats  `json:"reference_value,omitempty"`
	Ratio      float64 `json:"ratio,omitempty"`
	RatioMeans string  `json:"ratio_means,omitempty"`
	Target     string  `json:"target,omitempty"`
	Met        *bool   `json:"met,omitempty"`
	Note       string  `json:"note,omitempty"`
}

// Soak is the soak's verdict in detail.
type Soak struct {
	Cycles            int       `json:"cycles"`
	DumpEqual         bool      `json:"dump_equal"`
	DumpDiff          string    `json:"dump_diff,omitempty"`
	FDsBefore         int       `json:"fds_before"`
	FDsAfter          int       `json:"fds_after"`
	GoroutinesBefore  int       `json:"goroutines_before"`
	GoroutinesAfter   int       `json:"goroutines_after"`
	ThreadsBefore     int       `json:"threads_before"`
	ThreadsAfter      int       `json:"threads_after"`
	RSSBeforeMiB      float64   `json:"rss_before_mib"`
	RSSAfterMiB       float64   `json:"rss_after_mib"`
	RSSFirstTenthMiB  float64   `json:"rss_first_tenth_mib"`
	RSSLastTenthMiB   float64   `json:"rss_last_tenth_mib"`
	RSSAfterEachMiB   []float64 `json:"rss_after_each_cycle_mib"`
	GCs               int       `json:"gcs,omitempty"`
	LiveBeforeMiB     float64   `json:"live_heap_before_mib,omitempty"`
	LiveFirstTenthMiB float64   `json:"live_heap_first_tenth_mib,omitempty"`
	LiveEndMiB        float64   `json:"live_heap_end_mib,omitempty"`
	StateBefore       []string  `json:"state_dir_before"`
	StateAfter        []string  `json:"state_dir_after"`
	SocketLeft        bool      `json:"socket_left"`
	ConnectP99        float64   `json:"connect_p99_ms"`
	DisconnectP99     float64   `json:"disconnect_p99_ms"`
	Clean             bool      `json:"clean"`
}

// rssNoiseMiB is how much the helper's RSS may move between two reads
// with nothing to do: the Go runtime returns freed pages to the kernel
// lazily, so a few hundred KiB come and go.
const rssNoiseMiB = 2.0

// rssNoiseShare is the share of the RSS that may come and go with the
// garbage collector's timing, when that is more than rssNoiseMiB.
const rssNoiseShare = 0.05

func stats(samples []float64) *Stats {
	if len(samples) == 0 {
		return nil
	}
	s := summarize(samples)
	return &s
}

func one(v float64) *Stats { return &Stats{N: 1, Median: v, Min: v, Max: v} }

func met(ok bool) *bool { return &ok }

// faster fills r's ratio as reference / wgtray: how many times faster
// (or leaner) wgtray is.
func (r *Row) faster(means string, want float64) {
	if r.Value == nil || r.Ref == nil || r.Value.Median <= 0 {
		return
	}
	r.Ratio = r.Ref.Median / r.Value.Median
	r.RatioMeans = means
	if want > 0 {
		r.Target = fmt.Sprintf("≥ %g×", want)
		r.Met = met(r.Ratio >= want)
	}
}

// report turns the samples into the Report.
func (b *bench) report(took time.Duration) *Report {
	s := &b.s
	rep := &Report{
		Date:     time.Now().UTC().Format(time.RFC3339),
		Duration: took.Round(time.Second).String(),
		Machine:  machine(b),
		Settings: Settings{Iterations: b.cfg.Iterations, SoakCycles: b.cfg.Soak, IperfRuns: b.cfg.IperfRuns,
			IperfSeconds: b.cfg.IperfSeconds, IdleWindow: b.cfg.Idle.String(), HelperEnv: b.cfg.HelperEnv,
			LatencyOnly: b.cfg.LatencyOnly},
		Profile: s.profile, TputProfile: s.tputProfile,
		ConnectSteps: s.connectSteps.rows(), DisconnectSteps: s.disconnectSteps.rows(),
	}
	add := func(r Row) *Row {
		rep.Rows = append(rep.Rows, r)
		return &rep.Rows[len(rep.Rows)-1]
	}
	const lat = "Latency"
	add(Row{ID: "connect_reply", Group: lat, Metric: "Connect: call → reply (routes, rules, firewall in place)", Unit: "ms",
		Subject: "wgtray (D-Bus)", Value: stats(s.connect), Reference: "wg-quick up", Ref: stats(s.wqUp)}).
		faster("wg-quick up median / Connect median", 20)
	add(Row{ID: "connect_first_reply", Group: lat, Metric: "Connect: call → first reply through the tunnel (handshake included)", Unit: "ms",
		Subject: "wgtray (D-Bus)", Value: stats(s.firstReply), Reference: "wg-quick up", Ref: stats(s.wqFirstReply)}).
		faster("wg-quick median / wgtray median", 0)
	add(Row{ID: "disconnect_reply", Group: lat, Metric: "Disconnect: call → reply", Unit: "ms",
		Subject: "wgtray (D-Bus)", Value: stats(s.disconnect), Reference: "wg-quick down", Ref: stats(s.wqDown)}).
		faster("wg-quick down median / Disconnect median", 20)
	add(Row{ID: "connect_over_engine", Group: lat, Metric: "Connect over D-Bus minus the engine's up inside the same call (see the breakdown)", Unit: "ms",
		Subject: "wgtray (D-Bus)", Value: stats(s.connectSteps.gap(stepWall, "engine")),
		Note: "the bench's call → reply, less the helper's Engine.Up: what the bus, polkit, the config, the locks and the wish add"})
	r := add(Row{ID: "connect_over_engine_work", Group: lat, Metric: "Connect over D-Bus minus the engine's own work (its up less the signals it has the daemon send)", Unit: "ms",
		Subject: "wgtray (D-Bus)", Value: stats(s.connectSteps.gap(stepWall, "engine", "-engine/signals")), Target: "≤ 2 ms",
		Note: "the engine bench (make bench-engine) has no observer: StateChanged and HealthChanged, sent before the reply, are D-Bus's cost"})
	if r.Value != nil {
		r.Met = met(r.Value.Median <= 2)
	}
	add(Row{ID: "disconnect_over_engine_work", Group: lat, Metric: "Disconnect over D-Bus minus the engine's own work (its down less its signals)", Unit: "ms",
		Subject: "wgtray (D-Bus)", Value: stats(s.disconnectSteps.gap(stepWall, "engine", "-engine/signals"))})
	add(Row{ID: "connect_cpu", Group: lat, Metric: "CPU time per connect", Unit: "ms",
		Subject: "helper process", Value: stats(s.connectCPU), Reference: "wg-quick up and its children", Ref: stats(s.wqUpCPU),
		Note: "helper: /proc ticks (10 ms) around each call, averaged over cycles; wg-quick: rusage, without the daemonized wireguard-go"}).
		faster("wg-quick CPU / helper CPU", 0)
	add(Row{ID: "disconnect_cpu", Group: lat, Metric: "CPU time per disconnect", Unit: "ms",
		Subject: "helper process", Value: stats(s.disconnectCPU), Reference: "wg-quick down and its children", Ref: stats(s.wqDownCPU)}).
		faster("wg-quick CPU / helper CPU", 0)

	if b.cfg.LatencyOnly {
		return rep
	}
	b.tputRows(add)

	const mem = "Memory (RSS)"
	r = add(Row{ID: "rss_helper_idle", Group: mem, Metric: "helper, idle (nothing ever connected)", Unit: "MiB",
		Subject: "wgtray-helper", Value: stats(s.helperRSSIdle), Target: "≤ 20 MiB"})
	if r.Value != nil {
		r.Met = met(r.Value.Max <= 20)
	}
	r = add(Row{ID: "rss_helper_first_up", Group: mem, Metric: "helper, its first tunnel up (warm-up cycle, after the first reply)", Unit: "MiB",
		Subject: "wgtray-helper", Value: stats(s.helperRSSFirstUp), Reference: "current wireguard-go under wg-quick", Ref: stats(s.wgGoRSSUp)})
	if r.Value != nil && r.Ref != nil && r.Ref.Median > 0 {
		r.Ratio, r.RatioMeans = r.Value.Median/r.Ref.Median, "helper RSS / wireguard-go RSS"
	}
	r = add(Row{ID: "rss_helper_up", Group: mem, Metric: "helper, one tunnel up, after the latency cycles (connected idle window)", Unit: "MiB",
		Subject: "wgtray-helper", Value: stats(s.helperRSSUp), Reference: "current wireguard-go under wg-quick", Ref: stats(s.wgGoRSSUp),
		Note: "the helper holds the D-Bus service and the WireGuard device in one process; wg-quick's device is a process of its own"})
	if r.Value != nil && r.Ref != nil && r.Ref.Median > 0 {
		r.Ratio, r.RatioMeans = r.Value.Median/r.Ref.Median, "helper RSS / wireguard-go RSS"
	}
	add(Row{ID: "rss_helper_after_soak", Group: mem, Metric: fmt.Sprintf("helper, nothing connected, right after the %d-cycle soak", s.soak.Cycles), Unit: "MiB",
		Subject: "wgtray-helper", Value: stats(s.helperRSSAfterSoak), Reference: "helper idle before the soak", Ref: one(s.soak.RSSBefore)})
	r = add(Row{ID: "rss_tray_idle", Group: mem, Metric: "tray, idle under Xvfb + xfce4-panel", Unit: "MiB",
		Subject: "wgtray", Value: stats(s.trayRSSIdle), Target: "≤ 40 MiB", Note: b.trayNote})
	if r.Value != nil {
		r.Met = met(r.Value.Max <= 40)
	}

	const idle = "Idle cost"
	window := b.cfg.Idle.String()
	ticks := func(id, metric, subject string, v int64, target bool, note string) {
		r := add(Row{ID: id, Group: idle, Metric: metric + " in " + window, Unit: "CPU ticks (10 ms)", Subject: subject, Note: note})
		if v >= 0 {
			r.Value = one(float64(v))
		}
		if target {
			r.Target = "0"
			if r.Value != nil {
				r.Met = met(v == 0)
			}
		}
	}
	ticks("idle_helper", "helper, nothing connected", "wgtray-helper", s.idleHelper, true, "")
	ticks("idle_tray", "tray, nothing connected", "wgtray", s.idleTray, true, b.trayNote)
	ticks("idle_helper_up", "helper, tunnel connected, no traffic", "wgtray-helper", s.idleHelperUp, false,
		"PersistentKeepalive = 25 sends a keepalive every 25 s")
	ticks("idle_tray_up", "tray, tunnel connected, no traffic", "wgtray", s.idleTrayUp, false, b.trayNote)

	const hl = "Health"
	add(Row{ID: "health_stalled", Group: hl, Metric: "peer's WireGuard stopped → stalled (pinging through the tunnel)", Unit: "ms",
		Subject: "wgtray-helper", Value: stats(s.healthStalled), Note: "15 s of unanswered data by definition, plus up to 1 s between readings"})
	add(Row{ID: "health_peer_back", Group: hl, Metric: "peer's WireGuard back (same key, no session) → ok", Unit: "ms",
		Subject: "wgtray-helper", Value: stats(s.healthBack), Note: "the heal re-resolves and handshakes at once, then after 1, 2, 4 … s while stalled"})

	so := s.soak
	rep.Soak = Soak{Cycles: so.Cycles, DumpEqual: so.DumpEqual, DumpDiff: so.DumpDiff,
		FDsBefore: so.FDsBefore, FDsAfter: so.FDsAfter, GoroutinesBefore: so.GoroutinesBefore, GoroutinesAfter: so.GoAfter,
		ThreadsBefore: so.ThreadsBefore, ThreadsAfter: so.ThreadsAfter, RSSBeforeMiB: so.RSSBefore, RSSAfterMiB: so.RSSAfter,
		StateBefore: so.StateBefore, StateAfter: so.StateAfter, SocketLeft: so.SocketLeft,
		ConnectP99: percentile(so.Connect, 99), DisconnectP99: percentile(so.Disconnect, 99), RSSAfterEachMiB: so.RSS}
	const soak = "Soak"
	add(Row{ID: "soak_connect", Group: soak, Metric: "Connect during the soak", Unit: "ms", Subject: "wgtray (D-Bus)",
		Value: stats(so.Connect), Note: fmt.Sprintf("p99 %.1f ms", rep.Soak.ConnectP99)})
	add(Row{ID: "soak_disconnect", Group: soak, Metric: "Disconnect during the soak", Unit: "ms", Subject: "wgtray (D-Bus)",
		Value: stats(so.Disconnect), Note: fmt.Sprintf("p99 %.1f ms", rep.Soak.DisconnectP99)})
	growth := func(id, metric, unit string, before, after, tolerance float64) bool {
		ok := after-before <= tolerance
		add(Row{ID: id, Group: soak, Metric: metric, Unit: unit, Subject: "after", Value: one(after),
			Reference: "before", Ref: one(before), Target: fmt.Sprintf("growth ≤ %g", tolerance), Met: met(ok)})
		return ok
	}
	clean := so.DumpEqual && !so.SocketLeft && strings.Join(so.StateBefore, ",") == strings.Join(so.StateAfter, ",")
	note := "routes, rules, links, addresses, nftables and sysctls equal the start's; no socket or journal left"
	if !clean {
		note = "LEFTOVERS: see the soak section"
	}
	v := 0.0
	if clean {
		v = 1
	}
	add(Row{ID: "soak_clean", Group: soak, Metric: "nothing left over (1 = namespace dump equal, no socket, no journal)", Unit: "bool",
		Subject: "after", Value: one(v), Target: "1", Met: met(clean), Note: note})
	fdsOK := growth("soak_fds", "helper file descriptors", "fds", float64(so.FDsBefore), float64(so.FDsAfter), 0)
	gorOK := growth("soak_goroutines", "helper goroutines (SIGUSR1 debug count)", "goroutines", float64(so.GoroutinesBefore), float64(so.GoAfter), 0)
	growth("soak_threads", "helper OS threads", "threads", float64(so.ThreadsBefore), float64(so.ThreadsAfter), 2)
	// The Go heap grows and shrinks by tens of MiB between collections
	// as devices come and go, so one read before and one after say little:
	// compare the medians of the RSS after the first and the last tenth
	// of the cycles.
	tenth := max(1, len(so.RSS)/10)
	first, last := summarize(so.RSS[:min(tenth, len(so.RSS))]).Median, summarize(so.RSS[max(0, len(so.RSS)-tenth):]).Median
	rep.Soak.RSSFirstTenthMiB, rep.Soak.RSSLastTenthMiB = first, last
	tol := max(rssNoiseMiB, first*rssNoiseShare)
	rssOK := last-first <= tol
	add(Row{ID: "soak_rss", Group: soak, Metric: "helper RSS after each cycle, median of the last tenth of the cycles vs the first tenth", Unit: "MiB",
		Subject: "last tenth", Value: one(last), Reference: "first tenth", Ref: one(first),
		Target: fmt.Sprintf("growth ≤ %.1f", tol), Met: met(rssOK),
		Note: fmt.Sprintf("idle before the soak %.1f MiB, right after it %.1f MiB", so.RSSBefore, so.RSSAfter)})
	if so.GCs > 0 {
		rep.Soak.GCs, rep.Soak.LiveBeforeMiB, rep.Soak.LiveFirstTenthMiB, rep.Soak.LiveEndMiB = so.GCs, so.LiveBefore, so.LiveFirstTenth, so.LiveEnd
		add(Row{ID: "soak_live_heap", Group: soak, Metric: "helper live Go heap after the last GC, end of the soak vs after its first tenth (GODEBUG=gctrace=1)", Unit: "MiB",
			Subject: "end", Value: one(so.LiveEnd), Reference: "first tenth", Ref: one(so.LiveFirstTenth),
			Note: fmt.Sprintf("before the soak %.0f MiB; %d collections in the run", so.LiveBefore, so.GCs)})
	}
	rep.Soak.Clean = clean && fdsOK && gorOK && rssOK
	return rep
}

// write writes the report as Markdown to md and as JSON to js.
func (rep *Report) write(md, js string) error {
	for _, p := range []string{md, js} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	if err := os.WriteFile(js, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if err := os.WriteFile(md, []byte(rep.markdown()), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// num formats a figure with a precision that suits its size.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v == float64(int64(v)):
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func cells(s *Stats) []string {
	if s == nil {
		return []string{"not measured", "", ""}
	}
	return []string{num(s.Median), num(s.Min), num(s.Max)}
}

// markdown renders the report as docs/BENCHMARKS.md.
func (rep *Report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Written by `sudo make bench` (`build/wgtray-bench`) on %s; the run took %s. ", rep.Date, rep.Duration)
	p("Do not edit: run the bench again.\n\n")
	p("## Machine\n\n| | |\n|---|---|\n")
	m := rep.Machine
	p("| CPU | %s |\n| Cores | %d |\n| Kernel | %s |\n| OS | %s |\n| Memory | %.1f GiB |\n| wgtray-helper | %s |\n",
		m.CPU, m.Cores, m.Kernel, m.OS, m.MemoryGiB, m.Helper)
	p("| Load average (1, 5, 15 min) at start | %s |\n| Load average at end | %s |\n", m.LoadStart, m.LoadEnd)
	for _, k := range sortedKeys(m.Packages) {
		p("| %s | %s |\n", k, m.Packages[k])
	}
	s := rep.Settings
	p("\nSettings: %d latency cycles per system, soak of %d cycles, %d iperf3 runs of %d s per configuration, idle windows of %s.\n\n",
		s.Iterations, s.SoakCycles, s.IperfRuns, s.IperfSeconds, s.IdleWindow)
	if len(s.HelperEnv) > 0 {
		p("The helper ran with %s added to its environment (an experiment, not the shipped settings).\n\n", strings.Join(s.HelperEnv, " "))
	}
	p("## Results\n\n")
	p("Median, min and max over the samples; the ratio compares medians (see the JSON's `ratio_means`). ")
	p("\"faster\" ratios are the reference's time over wgtray's.\n")
	group := ""
	for _, r := range rep.Rows {
		if r.Group != group {
			group = r.Group
			p("\n### %s\n\n", group)
			p("| Metric | Unit | wgtray median | min | max | Compared with | median | min | max | Ratio | Target | Met |\n")
			p("|---|---|--:|--:|--:|---|--:|--:|--:|--:|---|---|\n")
		}
		v, ref := cells(r.Value), []string{"", "", ""}
		if r.Ref != nil {
			ref = cells(r.Ref)
		}
		ratio := ""
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		ok := ""
		if r.Met != nil {
			ok = map[bool]string{true: "yes", false: "**no**"}[*r.Met]
		}
		metric := r.Metric
		if r.Note != "" {
			metric += " — " + r.Note
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", metric, r.Unit, v[0], v[1], v[2],
			r.Reference, ref[0], ref[1], ref[2], ratio, r.Target, ok)
	}
	var gap *Stats
	for _, r := range rep.Rows {
		if r.ID == "connect_over_engine_work" {
			gap = r.Value
		}
	}
	if bd := breakdownMarkdown(rep.ConnectSteps, rep.DisconnectSteps, gap); bd != "" {
		p("\n%s", bd)
	}
	if s.LatencyOnly {
		p("\nOnly the latency cycles were run (-latency-only).\n")
		return b.String()
	}
	so := rep.Soak
	p("\n## Soak in detail\n\n")
	p("%d connect/disconnect cycles through D-Bus, after the latency and throughput phases. ", so.Cycles)
	p("Namespace dump equal to the start's: %v. File descriptors %d → %d, goroutines %d → %d, threads %d → %d. ",
		so.DumpEqual, so.FDsBefore, so.FDsAfter, so.GoroutinesBefore, so.GoroutinesAfter, so.ThreadsBefore, so.ThreadsAfter)
	p("RSS idle before the soak %.1f MiB, right after its last cycle %.1f MiB; median after each cycle over the first tenth of the cycles %.1f MiB, over the last tenth %.1f MiB. ",
		so.RSSBeforeMiB, so.RSSAfterMiB, so.RSSFirstTenthMiB, so.RSSLastTenthMiB)
	p("State directory before %q, after %q; UAPI socket left: %v. Verdict: %s.\n",
		so.StateBefore, so.StateAfter, so.SocketLeft, map[bool]string{true: "clean", false: "**not clean**"}[so.Clean])
	if so.DumpDiff != "" {
		p("\n```\n%s\n```\n", so.DumpDiff)
	}
	var missed []string
	for _, r := range rep.Rows {
		if r.Met != nil && !*r.Met {
			missed = append(missed, fmt.Sprintf("- %s (%s): %s, target %s", r.Metric, r.Group, summaryOf(r), r.Target))
		}
	}
	p("\n## Targets missed\n\n")
	if len(missed) == 0 {
		p("None.\n")
	} else {
		p("%s\n", strings.Join(missed, "\n"))
	}
	if rep.Profile != "" {
		p("\n## Profile of the helper's connect/disconnect cycles\n\n")
		p("`perf record -g -p HELPER` over extra cycles, self time by binary and symbol (the release build is stripped: the helper's own Go code is one `[unknown]` line in `wgtray-helper`). ")
		p("The first line compares the helper's CPU time per cycle with the wall time: what is not CPU is waiting ")
		p("(netlink replies, the RCU grace periods of unregistering the TUN device, D-Bus and polkit round trips). ")
		p("The inclusive view shows what the kernel spent the helper's CPU on: system calls, nftables commits, page faults.\n\n")
		p("```\n%s```\n", rep.Profile)
	}
	if rep.TputProfile != "" {
		p("\n## Profile of a download\n\n")
		p("`perf record -p PID` of the process holding the WireGuard device during one download, self time by symbol. The bench's helper keeps its symbol table (`make bench` builds it without `-s -w`, otherwise as packaged), so its own functions are named.\n\n")
		p("```\n%s```\n", rep.TputProfile)
	}
	p("\n## How it is measured\n\n")
	p(`- The topology is the tests': a client namespace, a peer namespace running a current wireguard-go (built from the module the helper embeds) as the WireGuard server, and an "internet" host behind it, without NAT. Nothing touches the machine's own networking.
- wgtray: ` + "`wgtray-helper`" + ` runs as the D-Bus service in the client namespace on a private system bus with polkitd; the bench calls Connect and Disconnect as root through ` + "`ipc.Client`" + `. Connect replies once routes, rules and firewall are in place.
- wg-quick: Debian's ` + "`wg-quick up/down`" + ` with ` + "`WG_QUICK_USERSPACE_IMPLEMENTATION`" + ` naming the same current wireguard-go (Debian's 0.0.20220316 is a second, labelled row in the throughput table) on the same config, run with ` + "`nsenter --net`" + ` in the same client namespace (one extra exec, no remount). After ` + "`down`" + ` the bench waits, untimed, for the daemonized wireguard-go to exit.
- Cycles alternate which system goes first, so that machine noise hits both alike; one untimed warm-up cycle of each comes first.
- "First reply": a TCP connection from the client to an echo server on the internet host, whose reply names the tunnel's address as the source it saw; timed from the Connect call (or wg-quick's start), so it includes the handshake.
- Throughput: iperf3 from the client to the internet host, runs interleaved: no tunnel, wgtray, wg-quick; the peer's WireGuard counters prove the tunnel runs went through WireGuard. Client, peer and internet host share the machine's cores.
- Memory: VmRSS from /proc, sampled every second over the idle windows. Idle cost: utime + stime from /proc/PID/stat before and after each window.
- The helper runs with ` + "`GODEBUG=gctrace=1`" + ` (flag -gctrace), which prints a line per garbage collection and so tells its live heap; ` + "`-gctrace=false`" + ` leaves it out.
- Soak: dump of the client namespace (routes, rules, links, addresses, nftables, sysctls) before and after; the helper's fds from /proc, goroutines from its SIGUSR1 debug line, threads and RSS.
`)
	return b.String()
}

func summaryOf(r Row) string {
	switch {
	case r.Value == nil:
		return "not measured"
	case r.Ratio != 0:
		return fmt.Sprintf("%.2f× (%s %s vs %s %s)", r.Ratio, num(r.Value.Median), r.Unit, num(r.Ref.Median), r.Unit)
	default:
		return fmt.Sprintf("%s %s", num(r.Value.Median), r.Unit)
	}
}
