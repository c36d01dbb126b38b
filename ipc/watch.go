package ipc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of events.
const (
	// EventState is a StateChanged signal: Event.Change holds it.
	EventState EventKind = iota + 1
	// EventHelper is the helper taking or leaving its bus name (started,
	// stopped, crashed): Event.HelperUp says which. After the helper
	// comes back a client should reload the list, since it missed the
	// signals in between.
	EventHelper
	// EventHealth is a HealthChanged signal: Event.Health holds it.
	EventHealth
)

// String returns the kind's name, for logs.
func (k EventKind) String() string {
	switch k {
	case EventState:
		return "state"
	case EventHelper:
		return "helper"
	case EventHealth:
		return "health"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// StateChange is one StateChanged signal.
type StateChange struct {
	Name    string
	State   State
	Message string
}

// Event is what Watch delivers.
type Event struct {
	Kind     EventKind
	Change   StateChange  // for EventState
	Health   HealthChange // for EventHealth
	HelperUp bool         // for EventHelper
}

// cleanupTimeout bounds the removal of match rules once a Watch ends, so
// that a bus that stopped answering cannot keep its goroutine alive.
const cleanupTimeout = 5 * time.Second

// setupTimeout bounds each call Watch makes to subscribe (AddMatch,
// GetNameOwner): the bus daemon answers them itself, at once, and ctx
// is the watch's lifetime, usually without a deadline of its own.
// D-Bus's customary default.
const setupTimeout = 25 * time.Second

// busName is the bus daemon's own name, the sender of NameOwnerChanged.
const busName = "org.freedesktop.DBus"

// stateRule matches the helper's StateChanged. The sender is the bus
// name, which the bus resolves to its current owner (and which its policy
// lets only root own): anyone may broadcast a signal with the helper's
// path and interface.
func stateRule() []dbus.MatchOption {
	return []dbus.MatchOption{
		dbus.WithMatchSender(BusName),
		dbus.WithMatchObjectPath(ObjectPath),
		dbus.WithMatchInterface(Interface),
		dbus.WithMatchMember(SignalStateChanged),
	}
}

// healthRule matches the helper's HealthChanged, as stateRule its
// StateChanged.
func healthRule() []dbus.MatchOption {
	return []dbus.MatchOption{
		dbus.WithMatchSender(BusName),
		dbus.WithMatchObjectPath(ObjectPath),
		dbus.WithMatchInterface(Interface),
		dbus.WithMatchMember(SignalHealthChanged),
	}
}

// ownerRule matches the helper's name changing owner.
func ownerRule() []dbus.MatchOption {
	return []dbus.MatchOption{
		dbus.WithMatchSender(busName),
		dbus.WithMatchObjectPath("/org/freedesktop/DBus"),
		dbus.WithMatchInterface(busName),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, BusName),
	}
}

// Watch delivers the helper's StateChanged and HealthChanged signals, in order, and its
// coming and going on the bus, until ctx ends or the connection closes.
// Then it removes its match rules and closes the channel; nothing is
// left running. Nothing is polled. The reader must keep draining the
// channel: signals queue up behind it. The channel closing while ctx
// goes on means the connection closed (the bus went away): a client that
// wants to go on watching must Dial again.
func (c *Client) Watch(ctx context.Context) (<-chan Event, error) {
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	// Register the channel before the rules exist, so that no signal they
	// match can be missed.
	sigs := make(chan *dbus.Signal, 16)
	c.conn.Signal(sigs)
	var added [][]dbus.MatchOption
	cleanup := func() {
		c.conn.RemoveSignal(sigs)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		for _, r := range added {
			// Nothing to do about a failure: the connection is gone or
			// the bus is hung, and either way the rule dies with it.
			_ = c.conn.RemoveMatchSignalContext(cctx, r...)
		}
	}
	for _, r := range [][]dbus.MatchOption{stateRule(), healthRule(), ownerRule()} {
		if err := c.conn.AddMatchSignalContext(sctx, r...); err != nil {
			cleanup()
			return nil, fmt.Errorf("watch the helper: add match rule: %w", err)
		}
		added = append(added, r)
	}
	// The owner is looked up after the rules exist: a change after this
	// point arrives as NameOwnerChanged, which carries the new owner.
	owner, err := c.helperOwner(sctx)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("watch the helper: %w", err)
	}
	out := make(chan Event)
	go func() {
		defer close(out)
		defer cleanup()
		w := watcher{owner: owner}
		for {
			var s *dbus.Signal
			var ok bool
			select {
			case <-ctx.Done():
				return
			case s, ok = <-sigs:
				if !ok {
					return // the connection closed
				}
			}
			ev, ok := w.event(s)
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// helperOwner returns the unique name owning BusName, "" if none.
func (c *Client) helperOwner(ctx context.Context) (string, error) {
	var owner string
	err := c.conn.BusObject().CallWithContext(ctx, busName+".GetNameOwner", 0, BusName).Store(&owner)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up the owner of %s: %w", BusName, err)
	}
	return owner, nil
}

// watcher turns signals into events. It tracks the helper's unique name
// because the match rules only filter broadcasts: a signal sent to this
// connection directly reaches it whatever the rules, so a StateChanged
// counts only if the helper sent it.
type watcher struct {
	owner string
}

func (w *watcher) event(s *dbus.Signal) (Event, bool) {
	switch s.Name {
	case Interface + "." + SignalStateChanged:
		if w.owner == "" || s.Sender != w.owner || s.Path != ObjectPath || len(s.Body) != 3 {
			return Event{}, false
		}
		name, ok1 := s.Body[0].(string)
		state, ok2 := s.Body[1].(string)
		msg, ok3 := s.Body[2].(string)
		if !ok1 || !ok2 || !ok3 {
			return Event{}, false
		}
		return Event{Kind: EventState, Change: StateChange{Name: name, State: State(state), Message: msg}}, true
	case Interface + "." + SignalHealthChanged:
		if w.owner == "" || s.Sender != w.owner || s.Path != ObjectPath || len(s.Body) != 5 {
			return Event{}, false
		}
		name, ok1 := s.Body[0].(string)
		health, ok2 := s.Body[1].(string)
		peer, ok3 := s.Body[2].(string)
		since, ok4 := s.Body[3].(int64)
		reason, ok5 := s.Body[4].(string)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return Event{}, false
		}
		return Event{Kind: EventHealth, Health: HealthChange{Name: name, Health: Health(health), Peer: peer, Since: since, Reason: reason}}, true
	case busName + ".NameOwnerChanged":
		// The bus sets the sender of every message, so only the bus can
		// send this with its name.
		if s.Sender != busName || len(s.Body) != 3 {
			return Event{}, false
		}
		name, ok1 := s.Body[0].(string)
		newOwner, ok2 := s.Body[2].(string)
		if !ok1 || !ok2 || name != BusName {
			return Event{}, false
		}
		w.owner = newOwner
		return Event{Kind: EventHelper, HelperUp: newOwner != ""}, true
	}
	return Event{}, false
}
