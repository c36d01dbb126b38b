package ipc

import (
	"context"

	"github.com/godbus/dbus/v5"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of events.
const (
	// EventState is a StateChanged signal.
	EventState EventKind = iota
	// EventHelper is the helper appearing on or leaving the bus.
	EventHelper
)

// StateChange is one StateChanged signal.
type StateChange struct {
	Name    string
	State   State
	Message string
}

// Event is what Watch delivers.
type Event struct {
	Kind     EventKind
	Change   StateChange // for EventState
	HelperUp bool        // for EventHelper
}

// Watch delivers the helper's StateChanged signals and its coming and
// going on the bus until ctx ends; then it removes its match rules and
// closes the channel. Nothing is polled.
func (c *Client) Watch(ctx context.Context) (<-chan Event, error) {
	stateRule := []dbus.MatchOption{
		// Only the name's owner, which the bus lets only root be, may
		// speak for the helper; anyone can emit a signal with its path.
		dbus.WithMatchSender(BusName),
		dbus.WithMatchObjectPath(ObjectPath),
		dbus.WithMatchInterface(Interface),
		dbus.WithMatchMember(SignalStateChanged),
	}
	ownerRule := []dbus.MatchOption{
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, BusName),
	}
	if err := c.conn.AddMatchSignalContext(ctx, stateRule...); err != nil {
		return nil, err
	}
	if err := c.conn.AddMatchSignalContext(ctx, ownerRule...); err != nil {
		c.conn.RemoveMatchSignal(stateRule...)
		return nil, err
	}
	sigs := make(chan *dbus.Signal, 32)
	c.conn.Signal(sigs)
	out := make(chan Event, 32)
	go func() {
		defer close(out)
		defer func() {
			c.conn.RemoveSignal(sigs)
			c.conn.RemoveMatchSignal(stateRule...)
			c.conn.RemoveMatchSignal(ownerRule...)
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-sigs:
				if !ok {
					return
				}
				ev, ok := toEvent(s)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func toEvent(s *dbus.Signal) (Event, bool) {
	switch s.Name {
	case Interface + "." + SignalStateChanged:
		if s.Path != ObjectPath || len(s.Body) != 3 {
			return Event{}, false
		}
		name, ok1 := s.Body[0].(string)
		state, ok2 := s.Body[1].(string)
		msg, ok3 := s.Body[2].(string)
		if !ok1 || !ok2 || !ok3 {
			return Event{}, false
		}
		return Event{Kind: EventState, Change: StateChange{Name: name, State: State(state), Message: msg}}, true
	case "org.freedesktop.DBus.NameOwnerChanged":
		if len(s.Body) != 3 {
			return Event{}, false
		}
		name, _ := s.Body[0].(string)
		newOwner, _ := s.Body[2].(string)
		if name != BusName {
			return Event{}, false
		}
		return Event{Kind: EventHelper, HelperUp: newOwner != ""}, true
	}
	return Event{}, false
}
