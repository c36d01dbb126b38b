package netns

import (
	"fmt"
	"runtime"

	vnetns "github.com/vishvananda/netns"
)

// inNS runs fn on an OS thread that is in network namespace ns, without
// moving the rest of the process. Sockets that fn creates belong to ns for
// good, whichever thread later uses them, so a test can hold sockets in
// several namespaces at once.
//
// fn runs on a fresh goroutine locked to its thread. The thread is moved
// back before it is unlocked; if that fails it stays locked, and the
// runtime then discards it when the goroutine ends instead of letting
// other goroutines run in the wrong namespace.
func inNS(ns string, fn func() error) error {
	target, err := vnetns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			runtime.UnlockOSThread() // not moved yet: the thread is clean
			errc <- fmt.Errorf("open the current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := vnetns.Set(target); err != nil {
			// setns(2) either moves the thread or leaves it alone, but
			// do not bet a thread on it.
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			errc <- fmt.Errorf("return from namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// In runs fn on an OS thread that is in network namespace ns, as inNS
// does, for tests whose code under test opens its sockets itself (the
// helper's link monitor, which must watch the test's namespace).
func In(ns string, fn func() error) error { return inNS(ns, fn) }
