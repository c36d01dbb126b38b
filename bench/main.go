// Command wgtray-bench measures wgtray side by side with Debian's
// wg-quick, in network namespaces that never touch this machine's own
// networking: connect and disconnect latency through D-Bus, throughput,
// memory, idle cost and a connect/disconnect soak. It writes a Markdown
// report and the same figures as JSON. Run it as root: `sudo make bench`.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/tbrun"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.Bin, "bin", "build", "`directory` holding wgtray-helper and wgtray")
	flag.IntVar(&cfg.Iterations, "iterations", 30, "latency cycles per system")
	flag.IntVar(&cfg.Soak, "soak", 1000, "connect/disconnect cycles of the soak")
	flag.IntVar(&cfg.IperfRuns, "iperf-runs", 3, "iperf3 runs per configuration")
	flag.IntVar(&cfg.IperfSeconds, "iperf-seconds", 5, "seconds per iperf3 run")
	idle := flag.Int("idle-seconds", 30, "seconds of each idle window")
	flag.IntVar(&cfg.HealthRuns, "health-runs", 3, "times the peer is stopped and started to time the way back to ok; 0: none")
	flag.IntVar(&cfg.ProfileCycles, "profile-cycles", 50, "connect/disconnect `cycles` to profile with perf, if installed; 0: none")
	flag.StringVar(&cfg.WireguardGo, "wireguard-go", "", "current wireguard-go `binary` for the peer and wg-quick's main row (default: BIN/wireguard-go)")
	helperEnv := flag.String("helper-env", "", "comma-separated `KEY=VALUE` list added to the helper's environment, for experiments (e.g. GOMEMLIMIT=96MiB)")
	flag.BoolVar(&cfg.LatencyOnly, "latency-only", false, "run only the warm-up and the latency cycles, with their breakdown (the report leaves out every other figure)")
	flag.BoolVar(&cfg.GCTrace, "gctrace", true, "run the helper with GODEBUG=gctrace=1 to report its live Go heap")
	out := flag.String("out", "docs/BENCHMARKS.md", "Markdown report `file`")
	js := flag.String("json", "docs/BENCHMARKS.json", "JSON report `file`")
	flag.Parse()
	if *helperEnv != "" {
		cfg.HelperEnv = strings.Split(*helperEnv, ",")
	}
	cfg.Idle = time.Duration(*idle) * time.Second
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "wgtray-bench: run as root (sudo make bench): it creates network namespaces")
		os.Exit(1)
	}
	if cfg.Iterations < 1 || cfg.Soak < 1 || cfg.IperfRuns < 1 || cfg.IperfSeconds < 1 || *idle < 1 {
		fmt.Fprintln(os.Stderr, "wgtray-bench: -iterations, -soak, -iperf-runs, -iperf-seconds and -idle-seconds must be at least 1")
		os.Exit(2)
	}
	abs, err := filepath.Abs(cfg.Bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wgtray-bench:", err)
		os.Exit(1)
	}
	cfg.Bin = abs
	r := tbrun.New("wgtray-bench")
	r.HandleSignals()
	rep := run(r, cfg)
	r.RunCleanups()
	if err := rep.write(*out, *js); err != nil {
		fmt.Fprintln(os.Stderr, "wgtray-bench:", err)
		os.Exit(1)
	}
	fmt.Printf("\nwrote %s and %s\n", *out, *js)
	for _, row := range rep.Rows {
		if row.Met != nil && !*row.Met {
			fmt.Printf("target missed: %s (%s): %s, target %s\n", row.Metric, row.Group, summaryOf(row), row.Target)
		}
	}
}

// machine describes the machine the bench runs on.
func machine(b *bench) Machine {
	m := Machine{Cores: runtime.NumCPU(), Packages: map[string]string{}, LoadStart: b.loadStart, LoadEnd: loadavg()}
	m.CPU = procField("/proc/cpuinfo", "model name", ":")
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal", ":"), " kB"), 64); err == nil {
		m.MemoryGiB = kb / (1 << 20)
	}
	if v, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(v))
	}
	if v, err := os.ReadFile("/proc/sys/kernel/version"); err == nil {
		m.Kernel += " " + strings.TrimSpace(string(v))
	}
	m.OS = strings.Trim(procField("/etc/os-release", "PRETTY_NAME", "="), `"`)
	for _, pkg := range []string{"wireguard-tools", "wireguard-go", "iperf3", "nftables", "iproute2", "xfce4-panel"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output(); err == nil {
			m.Packages[pkg] = string(out)
		}
	}
	if out, err := exec.Command(filepath.Join(b.cfg.Bin, "wgtray-helper"), "--version").Output(); err == nil {
		m.Helper = strings.TrimSpace(string(out))
	}
	return m
}

// procField returns the value of the first line of file that starts with
// key, after sep.
func procField(file, key, sep string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// loadavg returns the 1, 5 and 15 minute load averages of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
