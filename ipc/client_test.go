package ipc

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/wgtray/wgtray/internal/testenv/privbus"
)

func TestClientCalls(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	st := fullStatus()
	f.set(func(f *fakeHelper) {
		f.tunnels = []Tunnel{{Name: "home", State: "connected"}, {Name: "work", State: "disconnected"}}
		f.status = st
		f.config = "[Interface]\nPrivateKey = (hidden)\n"
	})
	c := NewClient(privbus.Connect(t, addr))
	ctx := t.Context()

	tunnels, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Tunnel{{"home", "connected"}, {"work", "disconnected"}}, tunnels); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	got, err := c.Status(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got, variantsEqual); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	for name, do := range map[string]func() error{
		"Connect":    func() error { return c.Connect(ctx, "home") },
		"Disconnect": func() error { return c.Disconnect(ctx, "home") },
		"Import":     func() error { return c.Import(ctx, "new", "[Interface]\nAddress = 10.0.0.2/32\n") },
		"Remove":     func() error { return c.Remove(ctx, "new") },
	} {
		if err := do(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cfg, err := c.GetConfig(ctx, "home"); err != nil || cfg != "[Interface]\nPrivateKey = (hidden)\n" {
		t.Errorf("GetConfig = %q, %v", cfg, err)
	}
	if v, err := c.Version(ctx); err != nil || v != "1.2.3" {
		t.Errorf("Version = %q, %v", v, err)
	}

	// What the helper received: arguments, and the interactive flag on
	// exactly the calls polkit may prompt for.
	interactive := map[string]bool{MethodConnect: true, MethodDisconnect: true, MethodImport: true, MethodRemove: true, MethodGetConfig: true}
	wantArgs := map[string][]any{
		MethodList: nil, MethodStatus: {"home"}, MethodConnect: {"home"}, MethodDisconnect: {"home"},
		MethodImport: {"new", "[Interface]\nAddress = 10.0.0.2/32\n"}, MethodRemove: {"new"}, MethodGetConfig: {"home"},
	}
	calls := f.recorded()
	if len(calls) != len(wantArgs) {
		t.Errorf("the helper received %d calls, want %d: %+v", len(calls), len(wantArgs), calls)
	}
	for _, cl := range calls {
		if diff := cmp.Diff(wantArgs[cl.Method], cl.Args); diff != "" {
			t.Errorf("%s arguments (-want +got):\n%s", cl.Method, diff)
		}
		if got := cl.Flags&dbus.FlagAllowInteractiveAuthorization != 0; got != interactive[cl.Method] {
			t.Errorf("%s: allow-interactive-authorization = %v, want %v", cl.Method, got, interactive[cl.Method])
		}
	}
}

func TestClientStatusTypeError(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	f.set(func(f *fakeHelper) {
		f.status = Status{Name: "home", Extra: map[string]dbus.Variant{}}
	})
	// A helper sending a wrong type cannot be faked through Status.ToMap,
	// so serve a raw map on another object.
	raw := map[string]dbus.Variant{"Name": dbus.MakeVariant("home"), "RxBytes": dbus.MakeVariant(int32(1))}
	conn := privbus.Connect(t, addr)
	if err := conn.Export(rawStatus(raw), "/raw", Interface); err != nil {
		t.Fatal(err)
	}
	c := &Client{conn: privbus.Connect(t, addr), dest: conn.Names()[0], path: "/raw"}
	if _, err := c.Status(t.Context(), "home"); err == nil {
		t.Error("a Status with RxBytes of type i was accepted")
	}
}

// rawStatus serves a fixed a{sv} as Status.
type rawStatus map[string]dbus.Variant

func (r rawStatus) Status(string) (map[string]dbus.Variant, *dbus.Error) { return r, nil }

// TestClientCancel checks that a call lasts only as long as its context:
// cancelling a Connect stuck behind a (fake) password prompt returns.
func TestClientCancel(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	c := NewClient(privbus.Connect(t, addr))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Connect(ctx, "slow") }()
	<-f.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Connect after cancel = %v, want context.Canceled", err)
	}
	// The connection still works.
	if _, err := c.List(t.Context()); err != nil {
		t.Errorf("List after a cancelled call: %v", err)
	}
}

func TestClientNoHelper(t *testing.T) {
	addr := privbus.Start(t)
	c := NewClient(privbus.Connect(t, addr))
	_, err := c.List(t.Context())
	var e *Error
	if !errors.As(err, &e) || e.Name != "org.freedesktop.DBus.Error.ServiceUnknown" {
		t.Errorf("List without a helper = %#v, want ServiceUnknown", err)
	}
}

func TestDial(t *testing.T) {
	addr := privbus.Start(t)
	startHelper(t, addr)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)

	ctx, cancel := context.WithCancel(t.Context())
	c, err := Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// ctx bounds the dialling only, not the connection.
	cancel()
	if _, err := c.List(t.Context()); err != nil {
		t.Errorf("List after the dial context ended: %v", err)
	}
	if v, err := c.Version(t.Context()); err != nil || v != "1.2.3" {
		t.Errorf("Version = %q, %v", v, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := c.List(t.Context()); err == nil {
		t.Error("List after Close succeeded")
	}

	if _, err := Dial(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context = %v", err)
	}
}

func TestNewClientCloseLeavesConnOpen(t *testing.T) {
	addr := privbus.Start(t)
	startHelper(t, addr)
	conn := privbus.Connect(t, addr)
	if err := NewClient(conn).Close(); err != nil {
		t.Fatal(err)
	}
	if !conn.Connected() {
		t.Error("Close closed a connection it did not make")
	}
}

// TestDialSilentBus checks that a bus which accepts but never answers
// cannot hang Dial past its context.
func TestDialSilentBus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+sock)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		// Once the client has started authenticating, give up on it.
		buf := make([]byte, 1)
		conn.Read(buf)
		cancel()
		// Hold the connection until the client closes it.
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	if _, err := Dial(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial to a silent bus = %v, want context.Canceled", err)
	}
	<-served
}
