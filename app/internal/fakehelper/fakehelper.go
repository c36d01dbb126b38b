// Package fakehelper is a stand-in for wgtray-helper, for the tests of
// what the tray and the command line do when the helper does not answer.
// It owns org.wgtray.Helper1 on a real bus (a private system bus, as
// root), at the same layer as the helper, answers from canned tunnels,
// and leaves the calls it is told to hold unanswered until the test
// ends, which the real helper cannot be made to do on demand.
package fakehelper

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/wgtray/wgtray/ipc"
)

// Helper is the fake helper.
type Helper struct {
	conn    *dbus.Conn
	held    chan string   // "Method name" of each call as it starts being held
	release chan struct{} // closed at cleanup, ending every hold

	mu      sync.Mutex // the bus is no synchronization the race detector knows of
	tunnels []ipc.Tunnel
	hold    map[string]bool // "Method name", or "Method" for any name
}

// Start exports the fake on conn, a connection of its own that may own
// the helper's name, with tunnels in the given states, and takes the name.
// Held calls are let go when the test ends, before conn closes, so
// that no goroutine is left waiting.
func Start(t *testing.T, conn *dbus.Conn, tunnels ...ipc.Tunnel) *Helper {
	t.Helper()
	h := &Helper{conn: conn, held: make(chan string, 16), release: make(chan struct{}),
		tunnels: tunnels, hold: map[string]bool{}}
	t.Cleanup(func() { close(h.release) })
	if err := conn.Export(object{h}, ipc.ObjectPath, ipc.Interface); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(introspect.Introspectable(ipc.IntrospectXML), ipc.ObjectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(ipc.BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v", ipc.BusName, reply, err)
	}
	return h
}

// Hold makes calls of method (about tunnel name, or any if name is "")
// wait for the end of the test instead of answering.
func (h *Helper) Hold(method, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := method
	if name != "" {
		key += " " + name
	}
	h.hold[key] = true
}

// WaitHeld waits until a call of method about name is being held.
func (h *Helper) WaitHeld(t *testing.T, method, name string, timeout time.Duration) {
	t.Helper()
	want := method + " " + name
	deadline := time.After(timeout)
	for {
		select {
		case got := <-h.held:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no call %s reached the fake helper within %v", want, timeout)
		}
	}
}

// maybeHold holds the call if it is to be held.
func (h *Helper) maybeHold(method, name string) {
	h.mu.Lock()
	held := h.hold[method] || h.hold[method+" "+name]
	h.mu.Unlock()
	if !held {
		return
	}
	select {
	case h.held <- method + " " + name:
	default:
	}
	<-h.release
}

// set moves tunnel name to state and says so, as the helper does.
func (h *Helper) set(name string, states ...ipc.State) *dbus.Error {
	h.mu.Lock()
	found := false
	for i := range h.tunnels {
		if h.tunnels[i].Name == name {
			h.tunnels[i].State = states[len(states)-1]
			found = true
		}
	}
	h.mu.Unlock()
	if !found {
		return ipc.ToDBus(fmt.Errorf("%w: %q", ipc.ErrNotFound, name))
	}
	for _, s := range states {
		if err := h.conn.Emit(ipc.ObjectPath, ipc.Interface+"."+ipc.SignalStateChanged, name, string(s), string(s)); err != nil {
			return ipc.ToDBus(fmt.Errorf("%w: emit: %v", ipc.ErrFailed, err))
		}
	}
	return nil
}

// object carries exactly the methods of the helper's interface.
type object struct{ h *Helper }

func (o object) List() ([]ipc.Tunnel, *dbus.Error) {
	o.h.maybeHold(ipc.MethodList, "")
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	return append([]ipc.Tunnel{}, o.h.tunnels...), nil
}

func (o object) Status(name string) (map[string]dbus.Variant, *dbus.Error) {
	o.h.maybeHold(ipc.MethodStatus, name)
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	for _, t := range o.h.tunnels {
		if t.Name == name {
			return ipc.Status{Name: name, State: t.State}.ToMap(), nil
		}
	}
	return nil, ipc.ToDBus(fmt.Errorf("%w: %q", ipc.ErrNotFound, name))
}

func (o object) Connect(name string) *dbus.Error {
	o.h.maybeHold(ipc.MethodConnect, name)
	return o.h.set(name, ipc.StateConnecting, ipc.StateConnected)
}

func (o object) Disconnect(name string) *dbus.Error {
	o.h.maybeHold(ipc.MethodDisconnect, name)
	return o.h.set(name, ipc.StateDisconnecting, ipc.StateDisconnected)
}

func (o object) Import(name, text string) *dbus.Error {
	o.h.maybeHold(ipc.MethodImport, name)
	return ipc.ToDBus(fmt.Errorf("%w: the fake helper imports nothing", ipc.ErrFailed))
}

func (o object) Remove(name string) *dbus.Error {
	o.h.maybeHold(ipc.MethodRemove, name)
	return ipc.ToDBus(fmt.Errorf("%w: the fake helper removes nothing", ipc.ErrFailed))
}

func (o object) GetConfig(name string) (string, *dbus.Error) {
	o.h.maybeHold(ipc.MethodGetConfig, name)
	return "", ipc.ToDBus(fmt.Errorf("%w: the fake helper keeps no configs", ipc.ErrFailed))
}
