package ipc

import (
	"context"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/wgtray/wgtray/internal/testenv/privbus"
)

// next returns the next event, failing the test if the channel closed.
func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	ev, ok := <-events
	if !ok {
		t.Fatal("the event channel closed")
	}
	return ev
}

func expect(t *testing.T, events <-chan Event, want Event) {
	t.Helper()
	if diff := cmp.Diff(want, next(t, events)); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func stateEvent(name string, state State, msg string) Event {
	return Event{Kind: EventState, Change: StateChange{Name: name, State: state, Message: msg}}
}

// roundTrip makes the bus process everything conn sent so far: it handles
// one connection's messages in order.
func roundTrip(t *testing.T, conn *dbus.Conn) {
	t.Helper()
	var id string
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetId", 0).Store(&id); err != nil {
		t.Fatal(err)
	}
}

func TestWatchStateChanges(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	c := NewClient(privbus.Connect(t, addr))
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.emit(t, "home", StateConnecting, "")
	f.emit(t, "home", StateConnected, "connected")
	f.emit(t, "home", StateDisconnected, "failed: step 2: boom")
	expect(t, events, stateEvent("home", StateConnecting, ""))
	expect(t, events, stateEvent("home", StateConnected, "connected"))
	expect(t, events, stateEvent("home", StateDisconnected, "failed: step 2: boom"))
}

// TestWatchHealthChanges: HealthChanged arrives as EventHealth, in order
// with StateChanged.
func TestWatchHealthChanges(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	c := NewClient(privbus.Connect(t, addr))
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stalled := HealthChange{Name: "home", Health: HealthStalled, Peer: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", Since: 1700000000, Reason: "nothing came back for 15 s while sending"}
	f.emit(t, "home", StateConnected, "connected")
	f.emitHealth(t, stalled)
	f.emitHealth(t, HealthChange{Name: "home", Health: HealthOK, Since: 1700000060})
	expect(t, events, stateEvent("home", StateConnected, "connected"))
	expect(t, events, Event{Kind: EventHealth, Health: stalled})
	expect(t, events, Event{Kind: EventHealth, Health: HealthChange{Name: "home", Health: HealthOK, Since: 1700000060}})
}

// TestWatchIgnoresImpostors checks that only the helper speaks for the
// helper: a broadcast from another connection is not matched, and one
// sent to the client directly, which no match rule filters, is dropped.
func TestWatchIgnoresImpostors(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	clientConn := privbus.Connect(t, addr)
	// raw sees every signal that reaches the client's connection.
	raw := make(chan *dbus.Signal, 8)
	clientConn.Signal(raw)
	defer clientConn.RemoveSignal(raw)
	events, err := NewClient(clientConn).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	spoof := privbus.Connect(t, addr)
	if err := spoof.Emit(ObjectPath, Interface+"."+SignalStateChanged, "home", "connected", "broadcast"); err != nil {
		t.Fatal(err)
	}
	unicast := &dbus.Message{
		Type: dbus.TypeSignal,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldDestination: dbus.MakeVariant(clientConn.Names()[0]),
			dbus.FieldPath:        dbus.MakeVariant(ObjectPath),
			dbus.FieldInterface:   dbus.MakeVariant(Interface),
			dbus.FieldMember:      dbus.MakeVariant(SignalStateChanged),
			dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf("", "", "")),
		},
		Body: []any{"home", "connected", "unicast"},
	}
	if call := spoof.Send(unicast, nil); call.Err != nil {
		t.Fatal(call.Err)
	}
	roundTrip(t, spoof)
	// The unicast did reach the connection...
	for s := range raw {
		if s.Name == Interface+"."+SignalStateChanged {
			if s.Body[2] != "unicast" {
				t.Errorf("the connection received %v: the broadcast should not match", s.Body)
			}
			break
		}
	}
	// ...but Watch passes on only the helper's own signal, sent after.
	f.emit(t, "home", StateConnecting, "real")
	expect(t, events, stateEvent("home", StateConnecting, "real"))
}

func TestWatchHelperComesAndGoes(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	c := NewClient(privbus.Connect(t, addr))
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	f.drop(t)
	expect(t, events, Event{Kind: EventHelper, HelperUp: false})
	// Without the name, the old owner's signals are not the helper's.
	f.emit(t, "home", StateConnected, "stale")

	// Another process becomes the helper, then crashes.
	f2 := startHelper(t, addr)
	expect(t, events, Event{Kind: EventHelper, HelperUp: true})
	f2.emit(t, "home", StateConnecting, "from the new helper")
	expect(t, events, stateEvent("home", StateConnecting, "from the new helper"))
	f2.conn.Close()
	expect(t, events, Event{Kind: EventHelper, HelperUp: false})

	f.take(t)
	expect(t, events, Event{Kind: EventHelper, HelperUp: true})
	f.emit(t, "home", StateDisconnected, "back")
	expect(t, events, stateEvent("home", StateDisconnected, "back"))
}

func TestWatchBeforeHelperStarts(t *testing.T) {
	addr := privbus.Start(t)
	c := NewClient(privbus.Connect(t, addr))
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f := startHelper(t, addr)
	expect(t, events, Event{Kind: EventHelper, HelperUp: true})
	f.emit(t, "home", StateConnected, "")
	expect(t, events, stateEvent("home", StateConnected, ""))
}

// TestWatchStops checks that the end of ctx closes the channel and
// removes the match rules (removing them again fails), and that several
// watches on one connection are independent.
func TestWatchStops(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	conn := privbus.Connect(t, addr)
	c := NewClient(conn)
	ctx1, cancel1 := context.WithCancel(t.Context())
	events1, err := c.Watch(ctx1)
	if err != nil {
		t.Fatal(err)
	}
	events2, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	f.emit(t, "home", StateConnecting, "")
	expect(t, events1, stateEvent("home", StateConnecting, ""))
	expect(t, events2, stateEvent("home", StateConnecting, ""))

	// Stop the first one while a signal may be waiting for it.
	f.emit(t, "home", StateConnected, "")
	cancel1()
	for range events1 {
	}
	expect(t, events2, stateEvent("home", StateConnected, ""))

	// The second watch still holds one copy of each rule; the first's are
	// gone, so only one removal each succeeds.
	for _, rule := range [][]dbus.MatchOption{stateRule(), ownerRule()} {
		if err := conn.RemoveMatchSignal(rule...); err != nil {
			t.Errorf("the second watch's rule is missing: %v", err)
		}
		if err := conn.RemoveMatchSignal(rule...); err == nil {
			t.Error("a rule of the stopped watch is still registered")
		}
	}
}

func TestWatchEndsWithTheConnection(t *testing.T) {
	addr := privbus.Start(t)
	startHelper(t, addr)
	conn := privbus.Connect(t, addr)
	events, err := NewClient(conn).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	for range events {
	}
}

func TestWatchOnClosedConnection(t *testing.T) {
	addr := privbus.Start(t)
	conn := privbus.Connect(t, addr)
	conn.Close()
	if _, err := NewClient(conn).Watch(t.Context()); err == nil {
		t.Error("Watch on a closed connection succeeded")
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{EventState: "state", EventHelper: "helper", EventHealth: "health", 0: "EventKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", int(k), got, want)
		}
	}
}
