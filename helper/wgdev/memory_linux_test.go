package wgdev

import (
	"context"
	"io"
	"log"
	"runtime/debug"
	"testing"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// TestMemoryLimitFollowsDevices checks that the soft memory limit is the
// active one from the first embedded device on and the idle one again
// once the last device closed and its memory was released.
func TestMemoryLimitFollowsDevices(t *testing.T) {
	netns.RequireRootFor(t, "the test creates a TUN device in a network namespace")
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	ns := netns.NewNS(t)
	h, err := vnetns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	m := NewManager(Userspace, nl, log.New(io.Discard, "", 0))
	defer m.Close()

	const idle, active = 50 << 20, 90 << 20
	m.SetMemoryLimits(MemoryLimits{Idle: idle, Active: active})
	if got := debug.SetMemoryLimit(-1); got != idle {
		t.Fatalf("no device: limit %d, want the idle %d", got, idle)
	}
	name := netns.UniqueName("wgm")
	if err := netns.In(ns, func() error { _, err := m.Create(context.Background(), name); return err }); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != active {
		t.Fatalf("one device: limit %d, want the active %d", got, active)
	}
	if err := m.Delete(name, 0); err != nil {
		t.Fatal(err)
	}
	// The device's memory is released releaseDelay later; until then the
	// limit stays, so that a reconnect does not meet a low limit.
	if got := debug.SetMemoryLimit(-1); got != active {
		t.Fatalf("right after the last device closed: limit %d, want still the active %d", got, active)
	}
	m.releaseMemory()
	if got := debug.SetMemoryLimit(-1); got != idle {
		t.Fatalf("after the release: limit %d, want the idle %d", got, idle)
	}
}
