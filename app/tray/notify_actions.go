package tray

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// NoticeAction is a button of a notification: Label is shown, Do runs on
// the tray's run goroutine when the user presses it.
type NoticeAction struct {
	Key   string // unique within the notification; "default" is a click on the notification itself
	Label string
	Do    func(ctx context.Context)
}

// actionList is the Notify call's actions argument: key, label, key, …
func actionList(as []NoticeAction) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Key, a.Label)
	}
	return out
}

// shown records no's actions under id; n.mu is held.
func (n *Notifier) shown(id uint32, no Notice) {
	if n.actions == nil {
		n.actions = map[uint32][]NoticeAction{}
	}
	if len(no.Actions) == 0 {
		delete(n.actions, id)
		return
	}
	n.actions[id] = no.Actions
}

// Close withdraws the notification shown under key, if any.
func (n *Notifier) Close(ctx context.Context, key string) error {
	n.mu.Lock()
	id, ok := n.ids[key]
	delete(n.ids, key)
	delete(n.actions, id)
	n.mu.Unlock()
	if !ok {
		return nil
	}
	err := n.conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications").CallWithContext(ctx,
		"org.freedesktop.Notifications.CloseNotification", 0, id).Err
	if err != nil {
		return fmt.Errorf("close notification %q: %w", key, err)
	}
	return nil
}

// notificationSignals are the notification server's signals the tray
// follows.
var notificationSignals = []dbus.MatchOption{
	// The bus forwards only the name's owner's: no other client of the
	// session can press our buttons this way.
	dbus.WithMatchSender("org.freedesktop.Notifications"),
	dbus.WithMatchInterface("org.freedesktop.Notifications"),
	dbus.WithMatchObjectPath("/org/freedesktop/Notifications"),
}

// Actions calls do with the action of each ActionInvoked signal about a
// notification of ours until ctx ends. The match rule is in place when it
// returns.
func (n *Notifier) Actions(ctx context.Context, do func(NoticeAction)) error {
	mctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	if err := n.conn.AddMatchSignalContext(mctx, notificationSignals...); err != nil {
		return fmt.Errorf("follow the notification server's signals: %w", err)
	}
	sigs := make(chan *dbus.Signal, 16)
	n.conn.Signal(sigs)
	go func() {
		defer n.conn.RemoveSignal(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == nil {
					return
				}
				if s.Path != "/org/freedesktop/Notifications" {
					continue
				}
				if s.Name == "org.freedesktop.Notifications.NotificationClosed" && len(s.Body) >= 1 {
					if id, ok := s.Body[0].(uint32); ok {
						n.mu.Lock()
						delete(n.actions, id)
						n.mu.Unlock()
					}
					continue
				}
				if s.Name != "org.freedesktop.Notifications.ActionInvoked" || len(s.Body) != 2 {
					continue
				}
				id, _ := s.Body[0].(uint32)
				key, _ := s.Body[1].(string)
				n.mu.Lock()
				as := n.actions[id]
				n.mu.Unlock()
				for _, a := range as {
					if a.Key == key {
						do(a)
					}
				}
			}
		}
	}()
	return nil
}
