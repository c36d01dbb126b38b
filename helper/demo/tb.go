package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// runner lets the demo reuse the test harnesses (testnet, testbus), which
// take a testing.TB: failures print and unwind, cleanups run in reverse
// order on exit, on failure and on Ctrl-C.
type runner struct {
	testing.TB // never called: the methods the harnesses use are below

	mu       sync.Mutex
	cleanups []func()
}

func (r *runner) Helper() {}

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// runCleanups tears everything down, once.
func (r *runner) runCleanups() {
	r.mu.Lock()
	fs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func (r *runner) TempDir() string {
	d, err := os.MkdirTemp("", "wgtray-demo-")
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (r *runner) Fatal(args ...any) { r.fail(fmt.Sprint(args...)) }

func (r *runner) Fatalf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }

func (r *runner) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
}

func (r *runner) Skip(args ...any) { r.fail(fmt.Sprint(args...)) }

func (r *runner) Log(args ...any) { fmt.Println(args...) }

func (r *runner) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func (r *runner) Name() string { return "demo" }

func (r *runner) fail(msg string) {
	fmt.Fprintln(os.Stderr, "demo failed:", msg)
	r.runCleanups()
	os.Exit(1)
}
