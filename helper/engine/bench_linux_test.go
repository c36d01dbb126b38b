package engine

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// BenchmarkUpDown measures the engine bringing a dual-stack full tunnel up
// and down in a namespace, in a child process so that the timings exclude
// process start. It reports up-ns and down-ns per cycle.
func BenchmarkUpDown(b *testing.B) { benchUpDown(b) }

// BenchmarkUpDownKillSwitch is BenchmarkUpDown with the kill switch, as
// the helper gives a full tunnel by default: the same plan as the bench's
// Connect over D-Bus, for the comparison with it.
func BenchmarkUpDownKillSwitch(b *testing.B) { benchUpDown(b, "WGTRAY_KILL_SWITCH=1") }

// benchUpDown runs the bench child's up/down cycles with extra
// environment env.
func benchUpDown(b *testing.B, env ...string) {
	netns.RequireRoot(b)
	tp := netns.New(b)
	iface := netns.UniqueName("wgb")
	conf := netns.WriteConf(b, b.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0",
	}))
	// Production journals go to /run, a tmpfs; /dev/shm is one everywhere.
	state, err := os.MkdirTemp("/dev/shm", "wgtray-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(state) })
	out := runChild(b, tp.Client, childEnv("bench", conf, state, "userspace", append([]string{fmt.Sprintf("WGTRAY_N=%d", b.N),
		"WGTRAY_TIMING=" + os.Getenv("WGTRAY_TIMING"), "WGTRAY_MEMSTATS=" + os.Getenv("WGTRAY_MEMSTATS"), "WGTRAY_CPUPROFILE=" + os.Getenv("WGTRAY_CPUPROFILE"),
		"WGTRAY_HELPER_MEMORY=" + os.Getenv("WGTRAY_HELPER_MEMORY")}, env...)...))
	var upNS, downNS int64
	if _, err := fmt.Sscanf(out, "bench up_ns=%d down_ns=%d", &upNS, &downNS); err != nil {
		b.Fatalf("child said %q: %v", out, err)
	}
	b.ReportMetric(float64(upNS), "up-ns/op")
	b.ReportMetric(float64(downNS), "down-ns/op")
	b.ReportMetric(float64(upNS+downNS), "ns/op")
}

// BenchmarkWgQuickUpDown measures Debian's wg-quick with wireguard-go on
// the same config and topology, for the ratio.
func BenchmarkWgQuickUpDown(b *testing.B) {
	netns.RequireRoot(b)
	if _, err := exec.LookPath("wg-quick"); err != nil {
		b.Skip("skipping: wg-quick not installed")
	}
	tp := netns.New(b)
	iface := netns.UniqueName("wgb")
	conf := netns.WriteConf(b, b.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0",
	}))
	var up, down time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		netns.WgQuick(b, tp.Client, "up", conf)
		t1 := time.Now()
		netns.WgQuick(b, tp.Client, "down", conf)
		up += t1.Sub(t0)
		down += time.Since(t1)
	}
	b.ReportMetric(float64(up.Nanoseconds()/int64(b.N)), "up-ns/op")
	b.ReportMetric(float64(down.Nanoseconds()/int64(b.N)), "down-ns/op")
}
