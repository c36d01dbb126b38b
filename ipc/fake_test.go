package ipc

import (
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/wgtray/wgtray/internal/testenv/privbus"
)

// call is one method call as the fake helper received it.
type call struct {
	Method string
	Args   []any
	Flags  dbus.Flags
}

// fakeHelper answers the helper's methods from canned data: a tunnel
// named in errs fails with that error, the tunnel "slow" blocks Connect
// until the test ends, and every call is recorded.
type fakeHelper struct {
	conn    *dbus.Conn
	entered chan struct{} // receives when Connect("slow") starts waiting
	release chan struct{} // closed at cleanup, ending every wait

	// mu guards the canned data too: the bus is no synchronization the
	// race detector knows of.
	mu      sync.Mutex
	tunnels []Tunnel
	status  Status
	config  string
	report  Report
	errs    map[string]error
	calls   []call
}

// set changes the canned data.
func (f *fakeHelper) set(change func(f *fakeHelper)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// startHelper exports a fake helper on a connection of its own, object
// first and name last, as the real helper does.
func startHelper(t *testing.T, addr string) *fakeHelper {
	t.Helper()
	f := &fakeHelper{
		conn:    privbus.Connect(t, addr),
		errs:    map[string]error{},
		entered: make(chan struct{}, 1),
		release: make(chan struct{}),
	}
	// Registered after privbus.Connect's Close, so it runs first: no handler
	// goroutine is left waiting when the test ends.
	t.Cleanup(func() { close(f.release) })
	if err := f.conn.Export(f, ObjectPath, Interface); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Export(introspect.Introspectable(IntrospectXML), ObjectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatal(err)
	}
	props := prop.Map{Interface: {PropertyVersion: {Value: "1.2.3", Emit: prop.EmitConst}}}
	if _, err := prop.Export(f.conn, ObjectPath, props); err != nil {
		t.Fatal(err)
	}
	f.take(t)
	return f
}

// take requests the helper's name.
func (f *fakeHelper) take(t *testing.T) {
	t.Helper()
	reply, err := f.conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName = %v, %v", reply, err)
	}
}

// drop releases the helper's name, as a helper that stops does.
func (f *fakeHelper) drop(t *testing.T) {
	t.Helper()
	if reply, err := f.conn.ReleaseName(BusName); err != nil || reply != dbus.ReleaseNameReplyReleased {
		t.Fatalf("ReleaseName = %v, %v", reply, err)
	}
}

// emit sends StateChanged.
func (f *fakeHelper) emit(t *testing.T, name string, state State, msg string) {
	t.Helper()
	if err := f.conn.Emit(ObjectPath, Interface+"."+SignalStateChanged, name, string(state), msg); err != nil {
		t.Fatal(err)
	}
}

// emitHealth sends HealthChanged.
func (f *fakeHelper) emitHealth(t *testing.T, h HealthChange) {
	t.Helper()
	if err := f.conn.Emit(ObjectPath, Interface+"."+SignalHealthChanged, h.Name, string(h.Health), h.Peer, h.Since, h.Reason); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeHelper) record(msg dbus.Message, method string, args ...any) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{Method: method, Args: args, Flags: msg.Flags})
	if len(args) > 0 {
		if name, ok := args[0].(string); ok {
			return ToDBus(f.errs[name])
		}
	}
	return nil
}

func (f *fakeHelper) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeHelper) List(msg dbus.Message) ([]Tunnel, *dbus.Error) {
	e := f.record(msg, MethodList)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tunnels, e
}

func (f *fakeHelper) Status(msg dbus.Message, name string) (map[string]dbus.Variant, *dbus.Error) {
	if e := f.record(msg, MethodStatus, name); e != nil {
		return nil, e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status.ToMap(), nil
}

func (f *fakeHelper) Connect(msg dbus.Message, name string) *dbus.Error {
	if e := f.record(msg, MethodConnect, name); e != nil {
		return e
	}
	if name == "slow" {
		f.entered <- struct{}{}
		<-f.release
	}
	return nil
}

func (f *fakeHelper) Disconnect(msg dbus.Message, name string) *dbus.Error {
	return f.record(msg, MethodDisconnect, name)
}

func (f *fakeHelper) Import(msg dbus.Message, name, config string) *dbus.Error {
	return f.record(msg, MethodImport, name, config)
}

func (f *fakeHelper) Remove(msg dbus.Message, name string) *dbus.Error {
	return f.record(msg, MethodRemove, name)
}

func (f *fakeHelper) GetConfig(msg dbus.Message, name string) (string, *dbus.Error) {
	e := f.record(msg, MethodGetConfig, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.config, e
}

func (f *fakeHelper) Diagnose(msg dbus.Message, name string, options map[string]dbus.Variant) (string, *dbus.Error) {
	if e := f.record(msg, MethodDiagnose, name, options); e != nil {
		return "", e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.report.Encode()
	return s, ToDBus(err)
}
