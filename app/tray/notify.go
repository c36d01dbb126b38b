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
	// actions maps a shown notification's id to its actions, for
	// ActionInvoked (notify_actions.go).
	actions map[uint32][]NoticeAction
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
		"wgtray", replaces, "network-vpn", no.Summary, no.Body, actionList(no.Actions), hints, int32(-1)).Store(&id)
	if err != nil {
		return fmt.Errorf("notify %q: %w", no.Summary, err)
	}
	n.mu.Lock()
	n.ids[no.Key] = id
	n.shown(id, no)
	n.mu.Unlock()
	return nil
}
