package main

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/internal/uapisock"
	"github.com/wgtray/wgtray/ipc"
)

// Config is what one bench run measures, and how long.
type Config struct {
	Bin           string        // directory holding wgtray-helper and wgtray
	Iterations    int           // interleaved latency cycles per system
	Soak          int           // connect/disconnect cycles of the soak
	IperfRuns     int           // throughput runs per configuration
	IperfSeconds  int           // length of each throughput run
	Idle          time.Duration // each idle window
	ProfileCycles int           // cycles to record with perf(1); 0: no profile
	GCTrace       bool          // run the helper with GODEBUG=gctrace=1 and report its live heap
	HealthRuns    int           // peer stopped and started, to time stalled and ok; 0: none
	// WireguardGo is a current wireguard-go, built from the module the
	// helper embeds: the peer runs it, and so does wg-quick's main row.
	// Debian's, on PATH, is the second comparison.
	WireguardGo string
	// HelperEnv is added to the helper's environment, for experiments
	// (GOMEMLIMIT=…, GOGC=…); the report names it.
	HelperEnv []string
	// LatencyOnly runs the warm-up and the latency cycles and nothing
	// else (no tray, idle, throughput, health, soak or profile): a quick
	// look at Connect's and Disconnect's breakdown while the machine is
	// shared. Its report leaves the other figures out.
	LatencyOnly bool
}

// callTimeout bounds one D-Bus call or one wg-quick run: far above any
// latency measured, it only keeps a wedged helper from hanging the bench.
const callTimeout = 60 * time.Second

// bench is one run's world: the topology, the private system bus, the
// helper in the client namespace, the tray in a headless session, and
// the samples taken so far.
type bench struct {
	tb  testing.TB
	cfg Config

	tp        *netns.Topology
	bus       *sysbus.Bus
	helper    *netns.Proc
	helperPid int
	cl        *ipc.Client
	stateDir  string // the helper's journals
	tunnel    string // the helper's tunnel, stored in its config dir
	wqConf    string // the same config for wg-quick, …/IFACE.conf
	wqIface   string
	echo      string // the internet host's EchoSource, host:port

	loadStart string    // /proc/loadavg when the run started
	tray      *exec.Cmd // nil when not measured
	trayNote  string    // why the tray was not measured

	s samples
}

// samples are the raw measurements; report turns them into rows.
type samples struct {
	connect, firstReply, disconnect       []float64 // helper, ms
	connectCPU, disconnectCPU             []float64 // helper, ms of CPU
	wqUp, wqFirstReply, wqDown            []float64 // wg-quick, ms
	wqUpCPU, wqDownCPU                    []float64 // wg-quick and its children, ms of CPU
	tput                                  [systemsCount]tputSamples
	helperRSSAfterLoad                    []float64 // MiB, 5 s after the last disconnect following load
	helperRSSIdle, helperRSSUp, wgGoRSSUp []float64 // MiB
	helperRSSAfterSoak, helperRSSFirstUp  []float64
	trayRSSIdle                           []float64
	idleHelper, idleTray                  int64 // ticks, nothing connected
	idleHelperUp, idleTrayUp              int64 // ticks, tunnel connected
	soak                                  soakResult
	profile                               string    // perf's summary, if recorded
	tputProfile                           string    // perf's summary of a download, if recorded
	healthStalled, healthBack             []float64 // ms: peer stopped → stalled, peer back → ok
	// The latency cycles' Connect and Disconnect, step by step.
	connectSteps, disconnectSteps breakdown
}

// soakResult is the helper before and after the soak's cycles.
type soakResult struct {
	Cycles                      int
	Connect, Disconnect         []float64 // ms
	RSS                         []float64 // MiB, after each cycle
	DumpEqual                   bool
	DumpDiff                    string
	FDsBefore, FDsAfter         int
	GoroutinesBefore, GoAfter   int
	ThreadsBefore, ThreadsAfter int
	RSSBefore, RSSAfter         float64  // MiB
	StateBefore, StateAfter     []string // the helper's state directory
	SocketLeft                  bool     // the tunnel's UAPI socket is still there
	// The live heap after the last garbage collection before the soak,
	// after its first tenth and at its end (MiB, GODEBUG=gctrace=1), and
	// the number of collections in all.
	LiveBefore, LiveFirstTenth, LiveEnd float64
	GCs                                 int
}

// run sets everything up, measures, and returns the report. Everything
// is torn down when tb ends.
func run(tb testing.TB, cfg Config) *Report {
	tb.Helper()
	b := &bench{tb: tb, cfg: cfg, loadStart: loadavg()}
	started := time.Now()
	b.setup()
	if cfg.LatencyOnly {
		b.warmUp()
		b.phaseLatency()
		return b.report(time.Since(started))
	}
	b.phaseIdle()
	b.warmUp()
	b.phaseLatency()
	b.phaseConnectedIdle()
	if cfg.HealthRuns > 0 {
		b.phaseHealth()
	}
	b.phaseThroughput()
	b.phaseSoak()
	if cfg.ProfileCycles > 0 {
		b.phaseProfile()
		b.phaseTputProfile()
	}
	return b.report(time.Since(started))
}

func (b *bench) logf(format string, args ...any) {
	b.tb.Logf("%s  "+format, append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// setup builds the topology, starts the bus, the helper, an echo server
// and an iperf3 server on the internet host, and the tray.
func (b *bench) setup() {
	tb := b.tb
	tb.Helper()
	for _, tool := range []string{"wg-quick", "wireguard-go", "iperf3", "nsenter", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s not found: install the Debian packages of the Makefile's TEST_DEBS (make deps)", tool)
		}
	}
	b.logf("setting up: namespaces, WireGuard peer, private system bus with polkitd")
	if b.cfg.WireguardGo == "" {
		b.cfg.WireguardGo = filepath.Join(b.cfg.Bin, "wireguard-go")
	}
	if _, err := os.Stat(b.cfg.WireguardGo); err != nil {
		tb.Fatalf("the current wireguard-go: %v (make bench builds it: go build -o build/wireguard-go golang.zx2c4.com/wireguard)", err)
	}
	b.tp = netns.NewWith(tb, netns.Options{WireguardGo: b.cfg.WireguardGo})
	b.bus = sysbus.Start(tb, sysbus.Options{})
	configDir := filepath.Join(tb.TempDir(), "wireguard")
	if err := os.Mkdir(configDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	// Production journals live in /run, a tmpfs; /dev/shm is one too.
	stateDir, err := os.MkdirTemp("/dev/shm", "wgtray-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(stateDir) })
	b.stateDir = stateDir
	conf := b.tp.ClientConfig(netns.ClientOpts{})
	b.tunnel = netns.UniqueName("wgbh")
	netns.WriteConf(tb, configDir, b.tunnel, conf)
	b.wqIface = netns.UniqueName("wgbq")
	b.wqConf = netns.WriteConf(tb, tb.TempDir(), b.wqIface, conf)

	// The helper logs each Connect's and Disconnect's steps (package
	// spans): a few clock readings per step, the line written after the
	// reply is on its way.
	env := append([]string{spans.Env + "=1"}, b.cfg.HelperEnv...)
	if b.cfg.GCTrace {
		// One line per garbage collection on stderr, with the live heap:
		// it tells a leak from memory the runtime merely keeps.
		env = append(env, "GODEBUG=gctrace=1")
	}
	b.helper = b.bus.StartHelper(tb, b.tp.Client, env, filepath.Join(b.cfg.Bin, "wgtray-helper"),
		"--config-dir", configDir, "--journal-dir", stateDir, "--lib-dir", tb.TempDir(), "--wireguard=userspace")
	// ip netns exec execs the helper in place: the pid is the helper's.
	b.helperPid = b.helper.Cmd.Process.Pid
	b.cl = ipc.NewClient(b.bus.Conn(tb))

	b.echo = b.tp.InetAddr4.String() + ":7070"
	netns.EchoSource(tb, b.tp.Inet, b.echo)
	srv := netns.StartProc(tb, b.tp.Inet, nil, "iperf3", "--server", "--bind", b.tp.InetAddr4.String(), "--forceflush")
	srv.WaitLine(tb, "Server listening", 10*time.Second)

	if b.cfg.LatencyOnly {
		b.trayNote = "not measured: -latency-only"
		return
	}
	if tool := missingDesktopTool(); tool != "" {
		b.trayNote = tool + " not installed"
		b.logf("tray not measured: %s", b.trayNote)
		return
	}
	b.logf("starting the tray in a headless xfce4-panel")
	sess := startSession(tb)
	// The user must be able to run the binary: copy it somewhere public.
	exe := filepath.Join(sysbus.PublicDir(tb), "wgtray")
	data, err := os.ReadFile(filepath.Join(b.cfg.Bin, "wgtray"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		tb.Fatal(err)
	}
	b.tray = sess.startTray(tb, exe, b.bus.Env())
	sess.waitMenuLabel(tb, b.tunnel)
}

// ctx returns a context for one call.
func (b *bench) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// helperTicks reads the helper's CPU ticks.
func (b *bench) helperTicks() int64 {
	n, err := cpuTicks(b.helperPid)
	if err != nil {
		b.tb.Fatalf("helper: %v; stderr: %s", err, b.helper.Stderr())
	}
	return n
}

// connect asks the helper to connect the tunnel and returns the time to
// its reply and the helper's CPU time meanwhile.
func (b *bench) connect() (wall time.Duration, cpu int64) {
	return b.timedCall("Connect", b.cl.Connect, nil)
}

// disconnect is connect's counterpart.
func (b *bench) disconnect() (wall time.Duration, cpu int64) {
	return b.timedCall("Disconnect", b.cl.Disconnect, nil)
}

// timedCall makes one D-Bus call about the tunnel and returns the time to
// its reply and the helper's CPU time meanwhile. With bd it also records
// the call's steps there.
func (b *bench) timedCall(method string, call func(context.Context, string) error, bd *breakdown) (wall time.Duration, cpu int64) {
	ctx, cancel := b.ctx()
	defer cancel()
	from := 0
	if bd != nil {
		from = b.helper.StderrLen()
	}
	c0 := b.helperTicks()
	m0 := spans.Monotonic()
	t0 := time.Now()
	err := call(ctx, b.tunnel)
	wall = time.Since(t0)
	m1 := spans.Monotonic()
	if err != nil {
		b.tb.Fatalf("%s(%s): %v; helper stderr: %s", method, b.tunnel, err, b.helper.Stderr())
	}
	cpu = b.helperTicks() - c0
	if bd != nil {
		bd.add(m0, m1, b.timingLine(from, method))
	}
	return wall, cpu
}

// firstReply connects from the client to the internet host's echo server
// and reads its reply, which must show the tunnel's address as source:
// the first packet through a fresh tunnel waits for the handshake.
func (b *bench) firstReply() time.Duration {
	t0 := time.Now()
	c, err := netns.DialTCP(b.tp.Client, b.echo, 10*time.Second)
	if err != nil {
		b.tb.Fatalf("first packet through the tunnel: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	d := time.Since(t0)
	if err != nil {
		b.tb.Fatalf("first reply through the tunnel: %v", err)
	}
	if src, err := netip.ParseAddr(strings.TrimSpace(line)); err != nil || src != b.tp.ClientTunnel4 {
		b.tb.Fatalf("the internet host saw source %q, want the tunnel's %v: the traffic did not go through the tunnel", line, b.tp.ClientTunnel4)
	}
	return d
}

// wgQuick runs `wg-quick ACTION` on the bench's config in the client
// namespace, as a person would in theirs, and returns its run time and
// the CPU time it and the children it waited for used. nsenter only
// enters the network namespace, which costs one exec; `ip netns exec`
// would also remount /sys, which wg-quick does not need. After "down"
// it waits, untimed, until wireguard-go has exited.
func (b *bench) wgQuick(action string) (wall, cpu time.Duration) {
	return b.wgQuickWith(b.cfg.WireguardGo, action)
}

// wgQuickWith is wgQuick with wireguard-go binary bin.
func (b *bench) wgQuickWith(bin, action string) (wall, cpu time.Duration) {
	tb := b.tb
	ctx, cancel := b.ctx()
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+b.tp.Client, "--", "wg-quick", action, b.wqConf)
	// The daemonized wireguard-go keeps our stdout, and so makes us wait
	// for it, if LOG_LEVEL is set; WG_PROCESS_FOREGROUND would keep it
	// from daemonizing. Neither may leak in.
	for _, kv := range os.Environ() {
		// Nor may the Go runtime's settings of an experiment with the
		// helper (-helper-env) change the reference wireguard-go.
		if !strings.HasPrefix(kv, "LOG_LEVEL=") && !strings.HasPrefix(kv, "WG_PROCESS_FOREGROUND=") &&
			!strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "WG_QUICK_USERSPACE_IMPLEMENTATION="+bin)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall = time.Since(t0)
	if err != nil {
		tb.Fatalf("wg-quick %s %s: %v\n%s", action, b.wqConf, err, out)
	}
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if action == "down" {
		netns.WaitFor(tb, 10*time.Second, "wg-quick's wireguard-go to exit", func() bool {
			_, err := os.Stat(uapisock.Path(b.wqIface))
			return os.IsNotExist(err) && len(netns.FindProcs("wireguard-go", b.wqIface)) == 0
		})
	}
	return wall, cpu
}

// warmUp runs one untimed cycle of each system, so that caches, the
// helper's first-use setup and the peer's first handshake are not
// charged to the first timed cycle. netns.WgQuick also makes sure a
// wireguard-go left by a failed run is stopped.
func (b *bench) warmUp() {
	b.logf("warm-up: one cycle of each")
	b.connect()
	b.firstReply()
	// The helper's first tunnel ever: its memory before any reuse.
	b.s.helperRSSFirstUp = []float64{b.mustRSS(b.helperPid, "helper")}
	b.disconnect()
	netns.WgQuick(b.tb, b.tp.Client, "up", b.wqConf)
	b.firstReply()
	netns.WgQuick(b.tb, b.tp.Client, "down", b.wqConf)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ticksMS turns clock ticks into milliseconds.
func ticksMS(t int64) float64 { return float64(t) * 1000 / clockTicks }

// phaseLatency interleaves the helper's and wg-quick's cycles,
// alternating which goes first, so that machine noise hits both alike.
func (b *bench) phaseLatency() {
	b.logf("latency: %d interleaved cycles of helper Connect/Disconnect and wg-quick up/down", b.cfg.Iterations)
	for i := range b.cfg.Iterations {
		helperCycle := func() {
			c, cc := b.timedCall("Connect", b.cl.Connect, &b.s.connectSteps)
			f := b.firstReply()
			d, dc := b.timedCall("Disconnect", b.cl.Disconnect, &b.s.disconnectSteps)
			b.s.connect = append(b.s.connect, ms(c))
			b.s.firstReply = append(b.s.firstReply, ms(c+f))
			b.s.disconnect = append(b.s.disconnect, ms(d))
			b.s.connectCPU = append(b.s.connectCPU, ticksMS(cc))
			b.s.disconnectCPU = append(b.s.disconnectCPU, ticksMS(dc))
		}
		wqCycle := func() {
			u, uc := b.wgQuick("up")
			f := b.firstReply()
			if pids := netns.FindProcs("wireguard-go", b.wqIface); len(pids) == 1 {
				if rss, err := rssMiB(pids[0]); err == nil {
					b.s.wgGoRSSUp = append(b.s.wgGoRSSUp, rss)
				}
			}
			d, dc := b.wgQuick("down")
			b.s.wqUp = append(b.s.wqUp, ms(u))
			b.s.wqFirstReply = append(b.s.wqFirstReply, ms(u+f))
			b.s.wqDown = append(b.s.wqDown, ms(d))
			b.s.wqUpCPU = append(b.s.wqUpCPU, ms(uc))
			b.s.wqDownCPU = append(b.s.wqDownCPU, ms(dc))
		}
		if i%2 == 0 {
			helperCycle()
			wqCycle()
		} else {
			wqCycle()
			helperCycle()
		}
	}
}

// settleTime is how long the bench waits after starting the helper and
// the tray before it measures their idle cost.
const settleTime = 5 * time.Second

// idleWindow measures the CPU ticks the helper and the tray use in one
// idle window, sampling their RSS every second meanwhile.
func (b *bench) idleWindow() (helperTicks, trayTicks int64, helperRSS, trayRSS []float64) {
	trayTicks = -1
	var t0 int64
	if b.tray != nil {
		t0 = b.mustTicks(b.tray.Process.Pid, "tray")
	}
	h0 := b.helperTicks()
	end := time.Now().Add(b.cfg.Idle)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		helperRSS = append(helperRSS, b.mustRSS(b.helperPid, "helper"))
		if b.tray != nil {
			trayRSS = append(trayRSS, b.mustRSS(b.tray.Process.Pid, "tray"))
		}
		left := time.Until(end)
		if left <= 0 {
			break
		}
		// The window is a fixed length of time, not a wait for an event.
		select {
		case <-tick.C:
		case <-time.After(left):
		}
	}
	helperTicks = b.helperTicks() - h0
	if b.tray != nil {
		trayTicks = b.mustTicks(b.tray.Process.Pid, "tray") - t0
	}
	return helperTicks, trayTicks, helperRSS, trayRSS
}

func (b *bench) mustRSS(pid int, who string) float64 {
	v, err := rssMiB(pid)
	if err != nil {
		b.tb.Fatalf("%s: %v", who, err)
	}
	return v
}

func (b *bench) mustTicks(pid int, who string) int64 {
	v, err := cpuTicks(pid)
	if err != nil {
		b.tb.Fatalf("%s: %v", who, err)
	}
	return v
}

// phaseIdle measures the helper and the tray with nothing connected.
func (b *bench) phaseIdle() {
	// Both just started: the runtime returning start-up memory and the
	// panel fetching the icon and menu are start-up, not idle cost.
	b.logf("idle: letting the helper and the tray settle for %v", settleTime)
	time.Sleep(settleTime)
	b.logf("idle: %v with nothing connected", b.cfg.Idle)
	h, t, hr, tr := b.idleWindow()
	b.s.idleHelper, b.s.idleTray = h, t
	b.s.helperRSSIdle, b.s.trayRSSIdle = hr, tr
}

// phaseConnectedIdle measures them with the tunnel connected but no
// traffic (but for PersistentKeepalive's every 25 s).
func (b *bench) phaseConnectedIdle() {
	b.logf("idle: %v with the tunnel connected, no traffic", b.cfg.Idle)
	b.connect()
	b.firstReply()
	h, t, hr, _ := b.idleWindow()
	b.s.idleHelperUp, b.s.idleTrayUp = h, t
	b.s.helperRSSUp = hr
	b.disconnect()
}

// goroutines asks the helper for its goroutine count (SIGUSR1, which
// makes it print "debug: goroutines=N").
func (b *bench) goroutines() int {
	from := len(b.helper.Lines())
	if err := b.helper.Signal(syscall.SIGUSR1); err != nil {
		b.tb.Fatalf("signal the helper: %v", err)
	}
	line := b.helper.WaitLineFrom(b.tb, from, "debug: goroutines=", 10*time.Second)
	var n int
	if _, err := fmt.Sscanf(line, "debug: goroutines=%d", &n); err != nil {
		b.tb.Fatalf("helper said %q: %v", line, err)
	}
	return n
}

// helperVitals reads the helper's fds, goroutines, threads and RSS.
func (b *bench) helperVitals() (fds, gor, threads int, rss float64) {
	fds, err := fdCount(b.helperPid)
	if err != nil {
		b.tb.Fatalf("helper: %v", err)
	}
	threads, err = threadCount(b.helperPid)
	if err != nil {
		b.tb.Fatalf("helper: %v", err)
	}
	return fds, b.goroutines(), threads, b.mustRSS(b.helperPid, "helper")
}

// phaseSoak runs the soak's cycles and compares the namespace and the
// helper's vitals before and after.
func (b *bench) phaseSoak() {
	tb := b.tb
	b.logf("soak: %d connect/disconnect cycles through D-Bus", b.cfg.Soak)
	r := &b.s.soak
	r.Cycles = b.cfg.Soak
	before := netns.Dump(tb, b.tp.Client)
	r.FDsBefore, r.GoroutinesBefore, r.ThreadsBefore, r.RSSBefore = b.helperVitals()
	r.LiveBefore, _ = b.gcLive()
	r.StateBefore = b.stateFiles()
	for i := range b.cfg.Soak {
		c, _ := b.connect()
		d, _ := b.disconnect()
		r.Connect = append(r.Connect, ms(c))
		r.Disconnect = append(r.Disconnect, ms(d))
		r.RSS = append(r.RSS, b.mustRSS(b.helperPid, "helper"))
		if i+1 == max(1, b.cfg.Soak/10) {
			r.LiveFirstTenth, _ = b.gcLive()
		}
		if (i+1)%250 == 0 {
			b.logf("soak: %d cycles", i+1)
		}
	}
	after := netns.Dump(tb, b.tp.Client)
	r.DumpEqual = before == after
	if !r.DumpEqual {
		r.DumpDiff = netns.DumpDiff(before, after)
		b.logf("soak: the client namespace differs after the soak:\n%s", r.DumpDiff)
	}
	r.FDsAfter, r.GoAfter, r.ThreadsAfter, r.RSSAfter = b.helperVitals()
	r.LiveEnd, r.GCs = b.gcLive()
	b.s.helperRSSAfterSoak = []float64{r.RSSAfter}
	r.StateAfter = b.stateFiles()
	_, err := os.Stat(uapisock.Path(b.tunnel))
	r.SocketLeft = err == nil
}

// stateFiles lists the helper's state directory, where journals live
// while a tunnel is up.
func (b *bench) stateFiles() []string {
	ents, err := os.ReadDir(b.stateDir)
	if err != nil {
		b.tb.Fatalf("read the helper's state directory: %v", err)
	}
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// phaseProfile records where the helper spends its CPU during
// connect/disconnect cycles with perf(1), and sums up by symbol. The
// release build is stripped, so the helper's own frames show as one
// unknown symbol in its binary; the kernel's are named.
func (b *bench) phaseProfile() {
	cycles := b.cfg.ProfileCycles
	if _, err := exec.LookPath("perf"); err != nil {
		b.s.profile = "not recorded: perf not installed (Debian package linux-perf)"
		return
	}
	b.logf("profile: perf record of the helper over %d connect/disconnect cycles", cycles)
	data := filepath.Join(b.tb.TempDir(), "perf.data")
	rec := exec.Command("perf", "record", "--quiet", "-g", "-F", "999", "-p", strconv.Itoa(b.helperPid), "-o", data)
	var recErr strings.Builder
	rec.Stderr = &recErr
	if err := rec.Start(); err != nil {
		b.s.profile = fmt.Sprintf("not recorded: perf record: %v", err)
		return
	}
	// perf opens its output only once it has attached to the helper: a
	// SIGINT before that ends it with nothing recorded, as a short smoke
	// run showed.
	netns.WaitFor(b.tb, 10*time.Second, "perf record to open "+data, func() bool {
		_, err := os.Stat(data)
		return err == nil
	})
	var wall, cpu float64
	for range cycles {
		c, cc := b.connect()
		d, dc := b.disconnect()
		wall += ms(c + d)
		cpu += ticksMS(cc + dc)
	}
	rec.Process.Signal(syscall.SIGINT)
	// perf writes its data and then dies of the SIGINT it was sent.
	if err := rec.Wait(); err != nil && !interrupted(rec.ProcessState) {
		b.s.profile = fmt.Sprintf("not recorded: perf record: %v: %s", err, recErr.String())
		return
	}
	// Self time tells which functions burn the CPU; inclusive time
	// (children) tells what the kernel was doing it for: system calls or
	// page faults.
	self, err := perfReport(data, "--no-children", "--sort", "dso,sym", "--percent-limit", "1.5")
	if err != nil {
		b.s.profile = "not recorded: " + err.Error()
		return
	}
	incl, err := perfReport(data, "--children", "--sort", "sym", "--percent-limit", "5")
	if err != nil {
		b.s.profile = "not recorded: " + err.Error()
		return
	}
	// The stripped helper's frames are bare addresses: keep the kernel's.
	var kernel []string
	for l := range strings.SplitSeq(incl, "\n") {
		if strings.Contains(l, "[k]") && len(kernel) < 30 {
			kernel = append(kernel, l)
		}
	}
	incl = strings.Join(kernel, "\n")
	b.s.profile = fmt.Sprintf("%d connect+disconnect cycles: %.1f ms wall, %.1f ms of helper CPU per cycle (%.0f%%)\n\n"+
		"Self time:\n%s\n\nInclusive time (children) of the kernel's functions, the top 30:\n%s\n",
		cycles, wall/float64(cycles), cpu/float64(cycles), 100*cpu/wall, self, incl)
}

// perfReport summarizes perf.data at data with perf report's args, without
// call graphs and comments.
func perfReport(data string, args ...string) (string, error) {
	out, err := exec.Command("perf", append([]string{"report", "-i", data, "--stdio", "-g", "none"}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("perf report: %w: %s", err, out)
	}
	var lines []string
	for l := range strings.SplitSeq(string(out), "\n") {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// gcLive returns the live heap in MiB that the helper's last garbage
// collection left, from GODEBUG=gctrace=1's lines on its stderr
// ("gc N @…: … A->B->C MB, D MB goal, …": C is the live heap), and how
// many collections there were; 0, 0 when there is no such line.
func (b *bench) gcLive() (live float64, n int) {
	for l := range strings.SplitSeq(b.helper.Stderr(), "\n") {
		if !strings.HasPrefix(l, "gc ") {
			continue
		}
		head, _, ok := strings.Cut(l, " MB, ")
		if !ok {
			continue
		}
		f := strings.Fields(head)
		sizes := strings.Split(f[len(f)-1], "->")
		if v, err := strconv.ParseFloat(sizes[len(sizes)-1], 64); err == nil {
			live, n = v, n+1
		}
	}
	return live, n
}

// interrupted reports whether the process died of SIGINT.
func interrupted(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
}
