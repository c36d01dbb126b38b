// Package tbrun lets a main program, such as the demo or the benchmark,
// reuse the test harnesses netns and sysbus, which take a testing.TB:
// a Runner is a testing.TB whose failures print and unwind, and whose
// cleanups run in reverse order on exit, on failure and on Ctrl-C.
package tbrun

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// Runner is the testing.TB of a main program. Only the methods the
// harnesses use are implemented; calling any other panics, as the
// embedded nil testing.TB would be dereferenced.
type Runner struct {
	testing.TB // never called: the methods the harnesses use are below

	name     string
	mu       sync.Mutex
	cleanups []func()
}

// New returns a Runner for the program called name, which prefixes its
// failure messages and temporary directories.
func New(name string) *Runner { return &Runner{name: name} }

// HandleSignals tears everything down and exits with status 130 on
// SIGINT or SIGTERM, so that Ctrl-C leaves no namespaces or daemons
// behind.
func (r *Runner) HandleSignals() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Println("\ninterrupted: tearing everything down")
		r.RunCleanups()
		os.Exit(130)
	}()
}

// Helper does nothing: there is no call stack to trim.
func (r *Runner) Helper() {}

// Cleanup registers f to run at RunCleanups, last registered first.
func (r *Runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// RunCleanups tears everything down, once: a later call runs only what
// was registered since.
func (r *Runner) RunCleanups() {
	r.mu.Lock()
	fs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// TempDir makes a root-only temporary directory, removed at cleanup.
func (r *Runner) TempDir() string {
	d, err := os.MkdirTemp("", r.name+"-")
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Fatal prints args, tears everything down and exits with status 1.
func (r *Runner) Fatal(args ...any) { r.fail(fmt.Sprint(args...)) }

// Fatalf is Fatal with a format.
func (r *Runner) Fatalf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }

// Errorf prints a message on stderr and goes on: the harnesses use it for
// problems during cleanup.
func (r *Runner) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, r.name+": "+format+"\n", args...)
}

// Skip fails: a main program has no test to skip, and a harness skips
// only when something it needs is missing.
func (r *Runner) Skip(args ...any) { r.fail(fmt.Sprint(args...)) }

// Skipf is Skip with a format.
func (r *Runner) Skipf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }

// Log prints args on stdout.
func (r *Runner) Log(args ...any) { fmt.Println(args...) }

// Logf prints a formatted line on stdout.
func (r *Runner) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// Name returns the program's name.
func (r *Runner) Name() string { return r.name }

func (r *Runner) fail(msg string) {
	fmt.Fprintf(os.Stderr, "%s failed: %s\n", r.name, msg)
	r.RunCleanups()
	os.Exit(1)
}
