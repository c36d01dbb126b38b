package sysbus

import (
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// helperStartTimeout bounds the wait for a started helper to own its name:
// it builds no state before it exports, so this is process start-up alone.
const helperStartTimeout = 20 * time.Second

// StartHelper runs the helper (argv, its binary first) in namespace ns
// with the bus's address and env in its environment, and returns once it
// owns ipc.BusName, so that the caller's first method call finds it.
func (b *Bus) StartHelper(tb testing.TB, ns string, env []string, argv ...string) *netns.Proc {
	tb.Helper()
	p := netns.StartProc(tb, ns, append([]string{b.Env()}, env...), argv...)
	WaitOwner(tb, b.Conn(tb), ipc.BusName, helperStartTimeout)
	return p
}

// HasOwner reports whether name has an owner on the bus conn is on.
func HasOwner(tb testing.TB, conn *dbus.Conn, name string) bool {
	tb.Helper()
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		tb.Fatalf("NameHasOwner(%s): %v", name, err)
	}
	return has
}

// WaitOwner waits until name has an owner on the bus conn is on.
func WaitOwner(tb testing.TB, conn *dbus.Conn, name string, timeout time.Duration) {
	tb.Helper()
	netns.WaitFor(tb, timeout, name+" to have an owner on the bus", func() bool { return HasOwner(tb, conn, name) })
}
