package tray

import (
	"context"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

// Notifier shows Notices through org.freedesktop.Notifications.
type Notifier struct {
	conn *dbus.Conn

	mu  sync.Mutex
	ids map[string]uint32 // the last notification of each key, to replace
}

// NewNotifier sends on conn, a session bus connection.
func NewNotifier(conn *dbus.Conn) *Notifier {
	return &Notifier{conn: conn, ids: map[string]uint32{}}
}

// Show displays n, replacing the previous notification with n's key.
func (n *Notifier) Show(ctx context.Context, no Notice) error {
	n.mu.Lock()
	replaces := n.ids[no.Key]
	n.mu.Unlock()
	urgency := byte(1)
	if no.Urgent {
		urgency = 2
	}
	hints := map[string]dbus.Variant{
		"urgency":       dbus.MakeVariant(urgency),
		"desktop-entry": dbus.MakeVariant("wgtray"),
	}
	var id uint32
	err := n.conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications").CallWithContext(ctx,
		"org.freedesktop.Notifications.Notify", 0,
		"wgtray", replaces, "network-vpn", no.Summary, no.Body, append([]string{}, no.Actions...), hints, int32(-1)).Store(&id)
	if err != nil {
		return fmt.Errorf("notify %q: %w", no.Summary, err)
	}
	n.mu.Lock()
	n.ids[no.Key] = id
	n.mu.Unlock()
	return nil
}

// ID returns the id of the last notification shown with key, 0 if none.
func (n *Notifier) ID(key string) uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ids[key]
}
