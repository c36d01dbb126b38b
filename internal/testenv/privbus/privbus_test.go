package privbus

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that a bus leaves nothing running once its test ends:
// the goroutine that holds the daemon's thread must end with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestStartConnect starts a bus and talks to it from two connections, each
// of which gets its own unique name.
func TestStartConnect(t *testing.T) {
	addr := Start(t)
	a, b := Connect(t, addr), Connect(t, addr)
	if a.Names()[0] == b.Names()[0] {
		t.Fatalf("two connections share the unique name %s", a.Names()[0])
	}
	var id string
	if err := a.BusObject().Call("org.freedesktop.DBus.GetId", 0).Store(&id); err != nil {
		t.Fatalf("GetId: %v", err)
	}
	if id == "" {
		t.Error("the bus has no id")
	}
}
