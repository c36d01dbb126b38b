package desktop

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Monitor records the session bus's calls to items, their menus and the
// notification server (org.freedesktop.DBus.Monitoring), so that a test
// sees what a panel did after a click: called Activate, opened the menu,
// or got a notification from the tray.
type Monitor struct {
	mu      sync.Mutex
	calls   []Call
	changed chan struct{} // closed and replaced at each new call
}

// Call is one recorded method call.
type Call struct {
	Member string // "org.kde.StatusNotifierItem.Activate", …
	Sender string
	Dest   string
	Args   string // the body, printed
}

// Monitor starts recording on a connection of its own, for the rest of
// the test.
func (s *Session) Monitor(tb testing.TB) *Monitor {
	tb.Helper()
	conn, err := dbus.Connect(s.BusAddr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	rules := []string{
		"type='method_call',interface='org.kde.StatusNotifierItem'",
		"type='method_call',interface='com.canonical.dbusmenu'",
		"type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
	}
	msgs := make(chan *dbus.Message, 256)
	conn.Eavesdrop(msgs)
	// Eavesdrop takes every message, the reply too, so none is waited
	// for; a refusal shows as a test that sees no calls.
	if call := conn.BusObject().Go("org.freedesktop.DBus.Monitoring.BecomeMonitor", dbus.FlagNoReplyExpected, nil, rules, uint32(0)); call.Err != nil {
		tb.Fatalf("BecomeMonitor: %v", call.Err)
	}
	m := &Monitor{changed: make(chan struct{})}
	go func() {
		for msg := range msgs {
			if msg.Type != dbus.TypeMethodCall {
				continue
			}
			iface, _ := msg.Headers[dbus.FieldInterface].Value().(string)
			member, _ := msg.Headers[dbus.FieldMember].Value().(string)
			sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
			dest, _ := msg.Headers[dbus.FieldDestination].Value().(string)
			m.mu.Lock()
			m.calls = append(m.calls, Call{Member: iface + "." + member, Sender: sender, Dest: dest, Args: fmt.Sprint(msg.Body...)})
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
	}()
	return m
}

// Mark is a point in the record: Since returns what came after it.
func (m *Monitor) Mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

// Since returns the calls recorded after mark.
func (m *Monitor) Since(mark int) []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls[mark:]...)
}

// Called waits up to timeout for a call after mark that satisfies match,
// and reports whether one came: for a click that a panel still starting
// may miss, and that the test then repeats.
func (m *Monitor) Called(mark int, timeout time.Duration, match func(Call) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		m.mu.Lock()
		calls, changed := m.calls[mark:], m.changed
		m.mu.Unlock()
		for _, c := range calls {
			if match(c) {
				return true
			}
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// WaitCall waits until a call after mark satisfies match and returns it.
func (m *Monitor) WaitCall(tb testing.TB, mark int, timeout time.Duration, what string, match func(Call) bool) Call {
	tb.Helper()
	if m.Called(mark, timeout, match) {
		for _, c := range m.Since(mark) {
			if match(c) {
				return c
			}
		}
	}
	var seen []string
	for _, c := range m.Since(mark) {
		a := c.Args
		if len(a) > 160 {
			a = a[:160] + "…"
		}
		seen = append(seen, c.Member+"("+a+")")
	}
	tb.Fatalf("no %s within %v; calls seen: %s", what, timeout, strings.Join(seen, ", "))
	return Call{}
}

// Member matches calls of one method (interface.member), and containing
// text in their arguments if text is not empty.
func Member(member, text string) func(Call) bool {
	return func(c Call) bool { return c.Member == member && strings.Contains(c.Args, text) }
}

// MenuShown matches what hosts call when they show an item's menu.
func MenuShown(c Call) bool {
	switch c.Member {
	case "com.canonical.dbusmenu.AboutToShow", "com.canonical.dbusmenu.AboutToShowGroup", "com.canonical.dbusmenu.GetLayout":
		return true
	case "com.canonical.dbusmenu.Event", "com.canonical.dbusmenu.EventGroup":
		return strings.Contains(c.Args, "opened")
	}
	return false
}
