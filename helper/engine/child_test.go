package engine

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/wgdev"
)

// The integration tests run the engine in a child process inside the
// test's client namespace: the test binary itself, re-executed with
// `ip netns exec`. A whole process is needed because the embedded
// WireGuard device opens its TUN and UDP sockets from many threads, and a
// thread that is not in the namespace would touch the root namespace.
//
// Child environment:
//
//	WGTRAY_CHILD   hold | fail | cleanup | bench | script (commands on stdin, see scriptChild)
//	WGTRAY_CONF    path of the config (name = tunnel)
//	WGTRAY_STATE   state directory
//	WGTRAY_WG      auto | kernel | userspace
//	WGTRAY_FAIL    fail: the Apply call to fail; WGTRAY_FAIL_AFTER=1 fails after applying
//	WGTRAY_N       bench: iterations
//	WGTRAY_KILL_SWITCH=1  every Up gets the kill switch (with allow-lan), as
//	               the helper gives a full tunnel by default
//	WGTRAY_HELPER_MEMORY=1  the helper's soft memory limits (64 MiB idle,
//	               120 MiB with a device), as wgtray-helper sets them
//	WGTRAY_NO_LEAK_GUARD=1  plan without the leak guard, as wg-quick does
//	WGTRAY_DNS     the DNS manager to use (the tests always name one)
//	WGTRAY_LIB     the durable directory (dns.Host.LibDir); default WGTRAY_STATE/lib
func TestMain(m *testing.M) {
	if role := os.Getenv("WGTRAY_CHILD"); role != "" {
		os.Exit(child(role))
	}
	goleak.VerifyTestMain(m)
}

func child(role string) int {
	logger := log.New(os.Stderr, "child: ", 0)
	fail := func(err error) int {
		logger.Print(err)
		return 1
	}
	mode, err := wgdev.ParseMode(os.Getenv("WGTRAY_WG"))
	if err != nil {
		return fail(err)
	}
	sys, err := NewLinux(mode, logger)
	if err != nil {
		return fail(err)
	}
	defer sys.Close()
	if os.Getenv("WGTRAY_HELPER_MEMORY") == "1" {
		sys.Devices().SetMemoryLimits(wgdev.MemoryLimits{Idle: 64 << 20, Active: 120 << 20})
	}
	if err := sys.SetDNSManager(os.Getenv("WGTRAY_DNS")); err != nil {
		return fail(err)
	}
	if d, err := time.ParseDuration(os.Getenv("WGTRAY_HOOK_TIMEOUT")); err == nil {
		sys.SetHookTimeout(d)
	}
	// Never the machine's /var/lib/wgtray.
	sys.SetDNSLibDir(cmp.Or(os.Getenv("WGTRAY_LIB"), filepath.Join(os.Getenv("WGTRAY_STATE"), "lib")))
	var s System = sys
	var timed *timingSystem
	if os.Getenv("WGTRAY_TIMING") == "1" {
		timed = &timingSystem{System: sys, total: map[plan.Kind]time.Duration{}}
		s = timed
	}
	if k := os.Getenv("WGTRAY_RACE_KIND"); k != "" {
		s = &racingSystem{System: s, kind: plan.Kind(k), cmd: os.Getenv("WGTRAY_RACE_CMD")}
	}
	var inj *faultySystem
	if role == "fail" {
		n, _ := strconv.Atoi(os.Getenv("WGTRAY_FAIL"))
		inj = &faultySystem{System: sys, failAt: n, after: os.Getenv("WGTRAY_FAIL_AFTER") == "1"}
		s = inj
	}
	e := New(s, os.Getenv("WGTRAY_STATE"), plan.Options{NoLeakGuard: os.Getenv("WGTRAY_NO_LEAK_GUARD") == "1", AllowScripts: os.Getenv("WGTRAY_ALLOW_SCRIPTS") == "1"}, logger)
	if os.Getenv("WGTRAY_KILL_SWITCH") == "1" {
		e.SetTunnelOptions(func(string, *config.Config) (bool, bool) { return true, true })
	}
	ctx := context.Background()
	if role == "cleanup" {
		if err := e.Cleanup(ctx); err != nil {
			return fail(err)
		}
		fmt.Println("cleaned")
		return 0
	}
	if role == "script" {
		return scriptChild(ctx, e, sys)
	}
	name, cfg, err := loadConf(os.Getenv("WGTRAY_CONF"))
	if err != nil {
		return fail(err)
	}
	switch role {
	case "hold":
		p, err := e.Up(ctx, name, cfg)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("up table=%d\n", p.Table)
		// Stay up until the parent closes stdin.
		bufio.NewReader(os.Stdin).ReadString('\n')
		if err := e.Down(ctx, name); err != nil {
			return fail(err)
		}
		fmt.Println("down")
	case "try":
		// One Up that is expected to fail: say how.
		if _, err := e.Up(ctx, name, cfg); err != nil {
			fmt.Printf("failed notours=%v exist=%v: %v\n", errors.Is(err, ErrNotOurs), errors.Is(err, os.ErrExist), err)
			return 0
		}
		if err := e.Down(ctx, name); err != nil {
			return fail(err)
		}
		fmt.Println("up and down")
	case "fail":
		_, err := e.Up(ctx, name, cfg)
		var serr *StepError
		switch {
		case err == nil:
			calls := inj.calls
			inj.failed = true // disarm: only Up's steps are under test
			if err := e.Down(ctx, name); err != nil {
				return fail(err)
			}
			fmt.Printf("completed calls=%d\n", calls)
		case errors.As(err, &serr) && errors.Is(err, errInjected):
			fmt.Printf("failed step=%d rollback=%v op=%s\n", serr.Step, serr.RollbackOK, serr.Op)
		default:
			return fail(err)
		}
	case "bench":
		n, _ := strconv.Atoi(os.Getenv("WGTRAY_N"))
		if path := os.Getenv("WGTRAY_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				return fail(err)
			}
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		var up, down time.Duration
		for range n {
			t0 := time.Now()
			if _, err := e.Up(ctx, name, cfg); err != nil {
				return fail(err)
			}
			t1 := time.Now()
			if err := e.Down(ctx, name); err != nil {
				return fail(err)
			}
			up += t1.Sub(t0)
			down += time.Since(t1)
		}
		fmt.Printf("bench up_ns=%d down_ns=%d\n", up.Nanoseconds()/int64(n), down.Nanoseconds()/int64(n))
		if os.Getenv("WGTRAY_MEMSTATS") == "1" {
			logMemory(logger, "after the cycles")
			runtime.GC()
			logMemory(logger, "after a GC")
			debug.FreeOSMemory()
			logMemory(logger, "after FreeOSMemory")
		}
		if timed != nil {
			for k, d := range timed.total {
				logger.Printf("%-12s %8.3f ms/cycle", k, float64(d.Microseconds())/1000/float64(n))
			}
			logger.Printf("%-12s %8.3f ms/cycle", "facts", float64(timed.facts.Microseconds())/1000/float64(n))
		}
	default:
		return fail(fmt.Errorf("unknown child role %q", role))
	}
	return 0
}

// logMemory logs the heap and the resident set, for the benchmark's
// memory profile.
func logMemory(logger *log.Logger, when string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	rss := ""
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			rss = strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	logger.Printf("memory %s: heap in use %d KiB, heap idle %d KiB, released %d KiB, RSS %s, goroutines %d",
		when, ms.HeapInuse>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, rss, runtime.NumGoroutine())
}

func loadConf(path string) (string, *config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return "", nil, err
	}
	return strings.TrimSuffix(filepath.Base(path), ".conf"), cfg, nil
}

var errInjected = errors.New("injected failure")

// timingSystem adds up the time spent in each kind of operation, for the
// benchmark's profile.
type timingSystem struct {
	System
	total map[plan.Kind]time.Duration
	facts time.Duration
}

func (t *timingSystem) Apply(ctx context.Context, op plan.Op) (plan.ID, error) {
	t0 := time.Now()
	id, err := t.System.Apply(ctx, op)
	t.total[op.Kind] += time.Since(t0)
	return id, err
}

func (t *timingSystem) Facts(ctx context.Context, link string, cfg *config.Config) (plan.Facts, error) {
	t0 := time.Now()
	f, err := t.System.Facts(ctx, link, cfg)
	t.facts += time.Since(t0)
	return f, err
}

// faultySystem fails the failAt-th Apply call of an Up (counting from 0),
// before or after letting it through. Calls made by the rollback itself
// pass.
type faultySystem struct {
	System
	failAt int
	after  bool
	calls  int
	failed bool
}

func (f *faultySystem) Apply(ctx context.Context, op plan.Op) (plan.ID, error) {
	if f.failed {
		return f.System.Apply(ctx, op)
	}
	n := f.calls
	f.calls++
	if n != f.failAt {
		return f.System.Apply(ctx, op)
	}
	f.failed = true
	if f.after {
		// The identity is lost with the reply: the engine must undo the
		// change all the same, from what its process knows.
		if _, err := f.System.Apply(ctx, op); err != nil {
			return plan.ID{}, err
		}
	}
	return plan.ID{}, fmt.Errorf("%w at %s", errInjected, op)
}

// racingSystem runs a shell command just before the first Apply of kind,
// as another program acting between the engine's facts and its change
// would: %d in the command is the priority of a rule being added.
type racingSystem struct {
	System
	kind plan.Kind
	cmd  string
	done bool
}

func (r *racingSystem) Apply(ctx context.Context, op plan.Op) (plan.ID, error) {
	if !r.done && op.Kind == r.kind && (op.Rule == nil || op.Rule.SuppressPrefixlen == 0) {
		r.done = true
		cmd := r.cmd
		if op.Rule != nil {
			cmd = fmt.Sprintf(cmd, op.Rule.Priority)
		}
		if out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput(); err != nil {
			return plan.ID{}, fmt.Errorf("racing %q: %v: %s", cmd, err, out)
		}
	}
	return r.System.Apply(ctx, op)
}
