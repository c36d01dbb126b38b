package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// TestBenchSmoke runs the whole bench once, as small as it goes, so that
// it cannot rot: every metric must be in the JSON with a sane value, and
// the Markdown must be written.
func TestBenchSmoke(t *testing.T) {
	netns.RequireRootFor(t, "the bench creates network namespaces, a system bus and users")
	bin := sysbus.Binaries(t)
	// The current wireguard-go, from the module the helper embeds, as
	// `make bench` builds it.
	wggo := filepath.Join(t.TempDir(), "wireguard-go")
	if out, err := exec.Command(goTool(), "build", "-o", wggo, "golang.zx2c4.com/wireguard").CombinedOutput(); err != nil {
		t.Fatalf("build wireguard-go: %v: %s", err, out)
	}
	cfg := Config{Bin: bin, Iterations: 1, Soak: 3, IperfRuns: 1, IperfSeconds: 1, Idle: time.Second, WireguardGo: wggo, HealthRuns: 1}
	if _, err := exec.LookPath("perf"); err == nil {
		cfg.ProfileCycles = 2
	}
	rep := run(t, cfg)
	dir := t.TempDir()
	md, js := filepath.Join(dir, "BENCHMARKS.md"), filepath.Join(dir, "BENCHMARKS.json")
	if err := rep.write(md, js); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Benchmarks", "## Machine", "### Latency", "### Throughput", "### Memory (RSS)", "### Idle cost", "### Soak"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, text)
		}
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("the JSON does not decode: %v", err)
	}
	if got.Machine.Cores < 1 || got.Machine.Kernel == "" || got.Machine.CPU == "" {
		t.Errorf("machine %+v", got.Machine)
	}
	rows := map[string]Row{}
	for _, r := range got.Rows {
		rows[r.ID] = r
	}
	// positive: figures that cannot be zero; the others (CPU time in 10 ms
	// ticks over one cycle, idle ticks, soak growth) may be.
	checks := []struct {
		id       string
		positive bool
		ref      bool
		tray     bool
	}{
		{"connect_reply", true, true, false},
		{"connect_first_reply", true, true, false},
		{"disconnect_reply", true, true, false},
		{"connect_over_engine", true, false, false},
		{"connect_over_engine_work", true, false, false},
		{"disconnect_over_engine_work", true, false, false},
		{"connect_cpu", false, true, false},
		{"disconnect_cpu", false, true, false},
		{"tput_veth", true, false, false},
		{"tput_crypto_ceiling", true, false, false},
		{"tput_up_vs_wggo", true, true, false},
		{"tput_down_vs_wggo", true, true, false},
		{"tput_up_vs_wggo_debian", true, true, false},
		{"tput_down_vs_wggo_debian", true, true, false},
		{"tput_cpu_per_gb", true, true, false},
		{"tput_retrans_up", false, true, false},
		{"tput_retrans_down", false, true, false},
		{"tput_udp_zero_loss", true, true, false},
		{"rss_under_load", true, true, false},
		{"rss_after_load", true, false, false},
		{"rss_helper_idle", true, false, false},
		{"rss_helper_first_up", true, true, false},
		{"rss_helper_up", true, true, false},
		{"rss_helper_after_soak", true, true, false},
		{"rss_tray_idle", true, false, true},
		{"idle_helper", false, false, false},
		{"idle_tray", false, false, true},
		{"idle_helper_up", false, false, false},
		{"idle_tray_up", false, false, true},
		{"soak_connect", true, false, false},
		{"soak_disconnect", true, false, false},
		{"soak_clean", false, false, false},
		{"soak_fds", true, true, false},
		{"soak_goroutines", true, true, false},
		{"soak_threads", true, true, false},
		{"soak_rss", true, true, false},
	}
	desktop := missingDesktopTool() == ""
	for _, c := range checks {
		r, ok := rows[c.id]
		if !ok {
			t.Errorf("metric %s missing from the JSON", c.id)
			continue
		}
		if r.Value == nil {
			if !c.tray || desktop {
				t.Errorf("metric %s not measured: %s", c.id, r.Note)
			}
			continue
		}
		sane(t, c.id, *r.Value, c.positive)
		if c.ref {
			if r.Ref == nil {
				t.Errorf("metric %s has no reference figures", c.id)
			} else {
				sane(t, c.id+" reference", *r.Ref, c.positive)
			}
		}
	}
	// The breakdown: the helper's own steps, and the bus on either side.
	for _, steps := range [][]BreakdownStep{got.ConnectSteps, got.DisconnectSteps} {
		names := map[string]Stats{}
		for _, s := range steps {
			names[s.Step] = s.MS
		}
		for _, want := range []string{stepWall, stepRequest, stepReply, stepMethod, "polkit", "engine", "engine/journal"} {
			if st, ok := names[want]; !ok || st.N != cfg.Iterations || st.Median < 0 {
				t.Errorf("breakdown step %q: %+v (present %v), want %d cycles; steps %+v", want, st, ok, cfg.Iterations, steps)
			}
		}
	}
	if !strings.Contains(string(text), "### Where Connect and Disconnect spend their time") {
		t.Errorf("the Markdown lacks the breakdown:\n%s", text)
	}
	// Three cycles are too few to tell RSS growth from the garbage
	// collector's timing: only leftovers, fds and goroutines count here.
	so := got.Soak
	if !so.DumpEqual || so.SocketLeft || so.FDsAfter > so.FDsBefore || so.GoroutinesAfter > so.GoroutinesBefore {
		t.Errorf("the soak left something behind or grew: %+v", so)
	}
	if cfg.ProfileCycles > 0 && !strings.Contains(got.Profile, "connect+disconnect cycles") {
		t.Errorf("perf is installed but the profile is %q", got.Profile)
	}
}

// goTool is the go command: on PATH, or where Debian machines set up
// from go.dev's archive have it (sudo resets PATH).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func sane(t *testing.T, id string, s Stats, positive bool) {
	t.Helper()
	if s.N < 1 || s.Min > s.Median || s.Median > s.Max || s.Min < 0 || (positive && s.Min <= 0) {
		t.Errorf("metric %s: implausible %+v", id, s)
	}
}

// TestSummarize checks the statistics the report is made of.
func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 3, 2, 4})
	if s != (Stats{N: 5, Median: 3, Min: 1, Max: 5}) {
		t.Errorf("odd count: %+v", s)
	}
	if s := summarize([]float64{4, 1, 2, 3}); s.Median != 2.5 {
		t.Errorf("even count: median %v, want 2.5", s.Median)
	}
	if s := summarize(nil); s != (Stats{}) {
		t.Errorf("no samples: %+v", s)
	}
	if p := percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99); p != 10 {
		t.Errorf("p99 %v, want 10", p)
	}
}

// TestMarkdownMarksMissedTargets checks that a missed target shows in the
// table and in the list of targets missed, and that a metric without
// figures says so.
func TestMarkdownMarksMissedTargets(t *testing.T) {
	rep := &Report{Rows: []Row{
		{ID: "a", Group: "Latency", Metric: "Connect", Unit: "ms", Value: &Stats{N: 1, Median: 20, Min: 20, Max: 20},
			Reference: "wg-quick up", Ref: &Stats{N: 1, Median: 300, Min: 300, Max: 300}},
		{ID: "b", Group: "Memory", Metric: "tray", Unit: "MiB", Target: "≤ 40 MiB", Note: "Xvfb not installed"},
	}}
	rep.Rows[0].faster("ref/ours", 20)
	md := rep.markdown()
	for _, want := range []string{"15.00×", "**no**", "- Connect (Latency): 15.00× (20 ms vs 300 ms), target ≥ 20×", "not measured", "Xvfb not installed"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestBreakdown checks how a call's timing line becomes the breakdown:
// the bus on either side from the clocks, steps summed, a step a cycle
// did not take counted as 0, and the engine's own steps not counted
// twice in the time outside any step.
func TestBreakdown(t *testing.T) {
	var bd breakdown
	ms := int64(1e6)
	bd.add(100*ms, 130*ms, spans.Line{StartMono: 101 * ms, EndMono: 129 * ms, Steps: []spans.Step{
		{Name: "polkit", NS: 1 * ms, N: 1}, {Name: "engine/signals", NS: 2 * ms, N: 2}, {Name: "engine", NS: 20 * ms, N: 1},
	}})
	bd.add(200*ms, 220*ms, spans.Line{StartMono: 202 * ms, EndMono: 219 * ms, Steps: []spans.Step{
		{Name: "engine", NS: 10 * ms, N: 1}, {Name: "wanted", NS: 3 * ms, N: 1},
	}})
	got := map[string][]float64{}
	for _, r := range bd.rows() {
		got[r.Step] = r.Samples
	}
	want := map[string][]float64{
		stepWall: {30, 20}, stepRequest: {1, 2}, stepReply: {1, 1}, stepMethod: {28, 17},
		"polkit": {1, 0}, "engine/signals": {2, 0}, "engine": {20, 10}, "wanted": {0, 3},
		stepOther: {7, 4},
	}
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s: %v, want %v", name, got[name], w)
		}
	}
	if g := bd.gap(stepWall, "engine", "-engine/signals"); !slices.Equal(g, []float64{12, 10}) {
		t.Errorf("wall - engine + its signals: %v, want [12 10]", g)
	}
}
