package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// A system is one way of carrying the client's traffic to the internet
// host, measured in the throughput phase.
type system int

const (
	sysVeth      system = iota // no tunnel: the veth ceiling
	sysHelper                  // wgtray's embedded wireguard-go
	sysWgGo                    // wg-quick with a current wireguard-go, built from the module the helper embeds
	sysWgGoDeb                 // wg-quick with Debian's wireguard-go
	systemsCount               // how many
)

// tputSamples are one system's throughput figures, one per run, for
// upload (client → internet host) and download (iperf3 -R).
type tputSamples struct {
	up, down       []float64 // Mbit/s
	cpuPerGB       []float64 // CPU seconds of the device process per GB carried, both directions
	retransUp      []float64 // TCP retransmits per run, upload
	retransDown    []float64 // and download
	rssPeak        []float64 // MiB, the device process's VmHWM during the run
	gcPerSecond    []float64 // the helper's collections per second under load
	udpZeroLossMbs float64   // highest UDP rate with no loss; 0 if not measured
}

// iperfResult is what the bench reads from iperf3's JSON.
type iperfResult struct {
	Mbps        float64
	Bytes       uint64
	Retransmits int
	LostPercent float64
	Lost        int
}

// iperfRun runs one iperf3 test from the client to the internet host.
// reverse makes the internet host send (iperf3 -R); udpMbps > 0 makes it
// a UDP test at that rate.
func (b *bench) iperfRun(reverse bool, udpMbps int, seconds int) iperfResult {
	tb := b.tb
	args := []string{"iperf3", "--client", b.tp.InetAddr4.String(), "--time", strconv.Itoa(seconds), "--json"}
	if reverse {
		args = append(args, "--reverse")
	}
	if udpMbps > 0 {
		// 1280-byte datagrams fit the tunnel's MTU (its TCP MSS is
		// 1368) without fragmentation, with room for IPv6's header.
		// A 4 MiB socket buffer keeps the receiving iperf3's own socket
		// from being what loses datagrams.
		args = append(args, "--udp", "--bitrate", strconv.Itoa(udpMbps)+"M", "--length", "1280", "--window", "4M")
	}
	out, err := netns.Run(b.tp.Client, args[0], args[1:]...)
	if err != nil {
		tb.Fatalf("iperf3 %v: %v\n%s", args, err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				Bytes         uint64  `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			Sum struct { // UDP
				Bytes         uint64  `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
				LostPackets   int     `json:"lost_packets"`
				LostPercent   float64 `json:"lost_percent"`
			} `json:"sum"`
		} `json:"end"`
		Error string `json:"error"`
	}
	// iperf3 may print a warning line before its JSON.
	if i := strings.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		tb.Fatalf("iperf3's JSON: %v: %s", err, out)
	}
	if res.Error != "" {
		tb.Fatalf("iperf3 failed: %q: %s", res.Error, out)
	}
	if udpMbps > 0 {
		return iperfResult{Mbps: res.End.Sum.BitsPerSecond / 1e6, Bytes: res.End.Sum.Bytes,
			Lost: res.End.Sum.LostPackets, LostPercent: res.End.Sum.LostPercent}
	}
	if res.End.SumReceived.BitsPerSecond <= 0 {
		tb.Fatalf("iperf3 measured nothing: %s", out)
	}
	return iperfResult{Mbps: res.End.SumReceived.BitsPerSecond / 1e6, Bytes: res.End.SumReceived.Bytes,
		Retransmits: res.End.SumSent.Retransmits}
}

// up brings system s up and returns the pid of the process that runs its
// WireGuard device (0 for the veth).
func (b *bench) up(s system) int {
	switch s {
	case sysHelper:
		b.connect()
		return b.helperPid
	case sysWgGo, sysWgGoDeb:
		b.wgQuickWith(b.wgGoBin(s), "up")
		pids := netns.FindProcs("wireguard-go", b.wqIface)
		if len(pids) != 1 {
			b.tb.Fatalf("wg-quick's wireguard-go for %s: pids %v", b.wqIface, pids)
		}
		return pids[0]
	}
	return 0
}

func (b *bench) down(s system) {
	switch s {
	case sysHelper:
		b.disconnect()
	case sysWgGo, sysWgGoDeb:
		b.wgQuickWith(b.wgGoBin(s), "down")
	}
}

// wgGoBin is the wireguard-go binary wg-quick runs for s.
func (b *bench) wgGoBin(s system) string {
	if s == sysWgGo {
		return b.cfg.WireguardGo
	}
	return "wireguard-go" // Debian's, on PATH
}

// measure runs one upload and one download through s, which is up with
// its device in process pid, and adds the figures to t.
func (b *bench) measure(s system, pid int, t *tputSamples) {
	tb := b.tb
	if pid != 0 {
		resetPeakRSS(pid)
	}
	ticks0 := int64(0)
	if pid != 0 {
		ticks0 = b.mustTicks(pid, "device process")
	}
	_, gcs0 := b.gcLive()
	t0 := time.Now()
	rx0, _ := b.peerTransfer(s)
	upRes := b.iperfRun(false, 0, b.cfg.IperfSeconds)
	rx1, tx1 := b.peerTransfer(s)
	downRes := b.iperfRun(true, 0, b.cfg.IperfSeconds)
	_, tx2 := b.peerTransfer(s)
	elapsed := time.Since(t0)
	if s != sysVeth {
		// The peer's counters prove the data went through WireGuard.
		if rx1-rx0 < upRes.Bytes || tx2-tx1 < downRes.Bytes {
			tb.Fatalf("system %d: the peer carried %d up and %d down, iperf3 %d and %d: the traffic did not go through the tunnel",
				s, rx1-rx0, tx2-tx1, upRes.Bytes, downRes.Bytes)
		}
	}
	t.up = append(t.up, upRes.Mbps)
	t.down = append(t.down, downRes.Mbps)
	t.retransUp = append(t.retransUp, float64(upRes.Retransmits))
	t.retransDown = append(t.retransDown, float64(downRes.Retransmits))
	if pid == 0 {
		return
	}
	ticks := b.mustTicks(pid, "device process") - ticks0
	if gb := float64(upRes.Bytes+downRes.Bytes) / 1e9; gb > 0 {
		t.cpuPerGB = append(t.cpuPerGB, float64(ticks)/clockTicks/gb)
	}
	if peak, err := peakRSSMiB(pid); err == nil {
		t.rssPeak = append(t.rssPeak, peak)
	}
	if s == sysHelper && b.cfg.GCTrace {
		_, gcs1 := b.gcLive()
		t.gcPerSecond = append(t.gcPerSecond, float64(gcs1-gcs0)/elapsed.Seconds())
	}
}

// peerTransfer reads the peer's WireGuard counters, 0 for the veth.
func (b *bench) peerTransfer(s system) (rx, tx uint64) {
	if s == sysVeth {
		return 0, 0
	}
	rx, tx = b.tp.PeerTransfer(b.tb)
	return rx, tx
}

// udpLossLimit is the share of datagrams (in %) a UDP rate may lose and
// still count as carried: iperf3 loses a few of the first burst's
// datagrams even on the bare veth, so strictly none would measure iperf3.
const udpLossLimit = 0.1

// udpZeroLoss finds the highest UDP rate, of a doubling series from 100
// Mbit/s, that s carries losing at most udpLossLimit % of the datagrams.
func (b *bench) udpZeroLoss() float64 {
	best := 0.0
	secs := min(2, b.cfg.IperfSeconds)
	for rate := 100; rate <= 12800; rate *= 2 {
		r := b.iperfRun(false, rate, secs)
		b.logf("  UDP %d Mbit/s: %.0f Mbit/s received, %d lost (%.3f%%)", rate, r.Mbps, r.Lost, r.LostPercent)
		if r.LostPercent > udpLossLimit {
			break
		}
		best = r.Mbps
	}
	return best
}

// phaseThroughput interleaves the systems, run by run, so that whatever
// else the machine does is shared among them.
func (b *bench) phaseThroughput() {
	b.logf("throughput: %d × 2 × %d s of iperf3 each (up, down): no tunnel, helper, wg-quick with a current and with Debian's wireguard-go",
		b.cfg.IperfRuns, b.cfg.IperfSeconds)
	for range b.cfg.IperfRuns {
		for s := range systemsCount {
			pid := b.up(s)
			b.measure(s, pid, &b.s.tput[s])
			b.down(s)
		}
	}
	// The helper must give the memory of the load back within 5 s of
	// the last device going (releaseDelay, then a collection): read its
	// RSS until it is at most 20 MiB or the 5 s are over.
	gone := time.Now()
	rss := b.mustRSS(b.helperPid, "helper")
	for tick := time.NewTicker(100 * time.Millisecond); rss > 20 && time.Since(gone) < 5*time.Second; <-tick.C {
		rss = b.mustRSS(b.helperPid, "helper")
	}
	b.s.helperRSSAfterLoad = []float64{rss}
	b.logf("UDP at ≤ %g%% loss, doubling from 100 Mbit/s", udpLossLimit)
	for s := range systemsCount {
		b.logf(" %s", tputNames[s])
		b.up(s)
		// Untimed: the first datagrams of a tunnel just brought up wait
		// for its handshake, and some are lost then.
		b.iperfRun(false, 0, 1)
		b.s.tput[s].udpZeroLossMbs = b.udpZeroLoss()
		b.down(s)
	}
}

// resetPeakRSS resets the process's VmHWM to its current RSS
// (clear_refs 5), so that the next read is the peak of what follows.
func resetPeakRSS(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakRSSMiB reads the process's VmHWM in MiB.
func peakRSSMiB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("pid %d: no VmHWM", pid)
}

// profileDownload runs one download through s with perf recording the
// device's process pid, and returns perf's self-time summary by symbol.
func (b *bench) profileDownload(s system, pid int) string {
	data := filepath.Join(b.tb.TempDir(), fmt.Sprintf("perf-%d.data", s))
	rec := exec.Command("perf", "record", "-F", "499", "-p", strconv.Itoa(pid), "-o", data)
	var recErr strings.Builder
	rec.Stderr = &recErr
	if err := rec.Start(); err != nil {
		return "not recorded: " + err.Error()
	}
	b.iperfRun(true, 0, b.cfg.IperfSeconds)
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil && !interrupted(rec.ProcessState) {
		return fmt.Sprintf("not recorded: perf record: %v: %s", err, recErr.String())
	}
	out, err := perfReport(data, "--no-children", "--sort", "sym", "--percent-limit", "1")
	if err != nil {
		return "not recorded: " + err.Error()
	}
	return out
}

// phaseTputProfile profiles one download through the helper and through
// the current wireguard-go, for the report.
func (b *bench) phaseTputProfile() {
	if _, err := exec.LookPath("perf"); err != nil {
		b.s.tputProfile = "not recorded: perf not installed (Debian package linux-perf)"
		return
	}
	b.logf("profile: perf record of one download through the helper and through the current wireguard-go")
	var out strings.Builder
	for _, s := range []system{sysHelper, sysWgGo} {
		pid := b.up(s)
		fmt.Fprintf(&out, "%s, one %d s download (iperf3 -R), self time by symbol:\n%s\n\n", tputNames[s], b.cfg.IperfSeconds, b.profileDownload(s, pid))
		b.down(s)
	}
	b.s.tputProfile = out.String()
}
