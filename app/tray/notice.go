package tray

import (
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// Notice is one desktop notification. Notices with the same Key replace
// each other on screen, so a tunnel shows only its newest news.
type Notice struct {
	Key     string // a tunnel's name, or "helper"
	Summary string
	Body    string
	Urgent  bool
	// Actions are the notification's buttons (notify_actions.go); the
	// notification server may not show them.
	Actions []NoticeAction
}

// NoticeFor says what a StateChanged signal tells the user, if anything:
// a transition in progress is shown in the icon, not announced.
func NoticeFor(ch ipc.StateChange) (Notice, bool) {
	switch ch.State {
	case ipc.StateConnected:
		return Notice{Key: ch.Name, Summary: "Connected to " + ch.Name}, true
	case ipc.StateDisconnected:
		if reason, failed := strings.CutPrefix(ch.Message, "failed: "); failed {
			return Notice{Key: ch.Name, Summary: "Could not connect " + ch.Name, Body: reason, Urgent: true}, true
		}
		body := ch.Message
		if body == "disconnected" {
			body = ""
		}
		return Notice{Key: ch.Name, Summary: "Disconnected from " + ch.Name, Body: body}, true
	}
	return Notice{}, false
}

// Notices about the connection and the helper.
func noticeStalled(t Tunnel) Notice {
	return Notice{Key: t.Name, Summary: "Connection to " + t.Name + " stalled", Body: capitalize(t.NoReply()) + "; wgtray-helper is trying to reconnect.", Urgent: true}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func noticeRestored(name string) Notice {
	return Notice{Key: name, Summary: "Connection to " + name + " restored"}
}

func noticeHelper(up bool) Notice {
	if up {
		return Notice{Key: "helper", Summary: "wgtray-helper is back"}
	}
	return Notice{Key: "helper", Summary: "wgtray-helper is unavailable", Body: "Tunnels cannot be controlled until it is running again.", Urgent: true}
}
