package tray

import (
	"context"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/ipc"
)

// What a left click does. xfce4-panel, Plasma and GNOME's AppIndicator
// extension open the menu themselves (ItemIsMenu); LXQt's, MATE's and
// Cinnamon's panels call the item's Activate instead, and every panel
// calls SecondaryActivate on a middle click. Both show the status
// notification: what is connected, and a button for the one obvious
// action (disconnect the connected tunnel, or connect the one used
// last), so that the click is seen and is one step from useful without
// ever changing a tunnel by itself.

// statusKey is the status notification's key: a new click replaces it.
const statusKey = "status"

// TextRightClick ends the status notification's body.
const TextRightClick = "Right-click the icon for the menu."

// desktopState is what the tray keeps about its panel.
type desktopState struct {
	// signals is a private session bus connection for whatever answers
	// with signals (notifications, the portal, the watcher's name):
	// systray's registration loop reads every signal of the shared
	// connection and ends for good at the first one with fewer than 3
	// arguments (NotificationClosed, ActionInvoked, the portal's
	// Response, all sent to the caller), after which the icon would not
	// come back when the panel restarts. nil: the shared one.
	signals  *dbus.Conn
	item     *Item  // nil until exported
	advice   string // what to install, while no host was there at start
	lastUsed string // the tunnel last seen connecting or connected
}

// statusNotice says what the tray would show in its menu, in a few lines.
func (a *App) statusNotice() Notice {
	now := a.now()
	n := Notice{Key: statusKey}
	switch {
	case !a.model.HelperUp:
		n.Summary, n.Body = "wgtray-helper is not running", "Tunnels cannot be controlled until it is running again."
		n.Actions = []NoticeAction{{Key: "retry", Label: "Try again", Do: a.retry}}
	case len(a.model.Tunnels) == 0:
		n.Summary, n.Body = "wgtray: no tunnels", "Import a WireGuard config to connect."
		n.Actions = []NoticeAction{{Key: "import", Label: "Import tunnel…", Do: a.startImport}}
	default:
		var lines, up []string
		for _, t := range a.model.Tunnels {
			switch {
			case t.State == ipc.StateConnected:
				up = append(up, t.Name)
				l := t.Name + ": connected"
				if t.Endpoint != "" {
					l += " to " + t.Endpoint
				}
				if t.Handshake != 0 {
					l += ", handshake " + present.Handshake(t.Handshake, now)
				}
				if t.Stalled() {
					l += " (" + t.NoReply() + ")"
				}
				lines = append(lines, l)
			case t.State != ipc.StateDisconnected:
				lines = append(lines, t.Name+": "+string(t.State))
			}
		}
		if len(up) == 0 {
			n.Summary = "wgtray: disconnected"
		} else {
			n.Summary = "wgtray: " + strings.Join(up, ", ") + " connected"
		}
		if a.model.Failed != "" {
			lines = append(lines, "Last error: "+shorten(a.model.Failed, 80))
		}
		n.Body = strings.Join(lines, "\n")
		if name, connected := a.obvious(); name != "" {
			label, do := "Connect "+name, func(ctx context.Context) {
				if t := a.model.Find(name); t != nil && t.State == ipc.StateDisconnected {
					a.toggle(ctx, name, false)
				}
			}
			if connected {
				label, do = "Disconnect "+name, func(ctx context.Context) {
					if t := a.model.Find(name); t != nil && t.State == ipc.StateConnected {
						a.toggle(ctx, name, true)
					}
				}
			}
			// "default" is a click on the notification itself, which
			// some servers (dunst) offer instead of buttons.
			n.Actions = []NoticeAction{{Key: "toggle", Label: label, Do: do}, {Key: "default", Label: label, Do: do}}
		}
	}
	if n.Body != "" {
		n.Body += "\n"
	}
	n.Body += TextRightClick
	return n
}

// obvious is the tunnel a button would act on: the connected one (the
// last used among several), else the one used last, else the first.
func (a *App) obvious() (name string, connected bool) {
	var up []string
	for _, t := range a.model.Tunnels {
		if t.State == ipc.StateConnected {
			up = append(up, t.Name)
		}
	}
	for _, n := range up {
		if n == a.desk.lastUsed {
			return n, true
		}
	}
	if len(up) > 0 {
		return up[0], true
	}
	if a.desk.lastUsed != "" && a.model.Find(a.desk.lastUsed) != nil {
		return a.desk.lastUsed, false
	}
	if len(a.model.Tunnels) > 0 {
		return a.model.Tunnels[0].Name, false
	}
	return "", false
}

// activated answers a click the panel passed to the item: the no-host
// advice while there is still no host to click in (a second launch), the
// status otherwise.
func (a *App) activated(ctx context.Context) {
	if a.desk.advice != "" && !hasOwner(ctx, a.session, WatcherName) {
		a.notify(noticeNoHost(a.desk.advice, true))
		return
	}
	a.notify(a.statusNotice())
}

// hostAppeared withdraws the no-host advice: systray registers the item
// with the new watcher by itself.
func (a *App) hostAppeared(ctx context.Context) {
	if a.desk.advice == "" {
		return
	}
	a.desk.advice = ""
	go func() {
		cctx, cancel := context.WithTimeout(ctx, notifyTimeout)
		defer cancel()
		if err := a.notifier.Close(cctx, noHostKey); err != nil {
			a.logger.Print(err)
		}
	}()
}

// noteUsed remembers the tunnel of a state change as the one used last.
func (a *App) noteUsed(ev ipc.Event) {
	if ev.Kind == ipc.EventState && (ev.Change.State == ipc.StateConnected || ev.Change.State == ipc.StateConnecting) {
		a.desk.lastUsed = ev.Change.Name
	}
}

// The tray's own object on the session bus, beside BusName: a second
// launch calls Present on it.
const (
	trayPath  = dbus.ObjectPath("/org/wgtray/Tray")
	trayIface = "org.wgtray.Tray"
)

// exportPresent lets a second launch poke this tray, which then shows
// what a click would (the no-host advice and its Quit button, or the
// status).
func (a *App) exportPresent(ctx context.Context) error {
	return a.session.ExportMethodTable(map[string]any{
		"Present": func() *dbus.Error {
			select {
			case a.do <- func() { a.activated(ctx) }:
			default: // the run goroutine is busy with many: drop this one
			}
			return nil
		},
	}, trayPath, trayIface)
}

// presentOther asks the tray that owns BusName to show itself.
func presentOther(ctx context.Context, conn *dbus.Conn) error {
	return conn.Object(BusName, trayPath).CallWithContext(ctx, trayIface+".Present", 0).Err
}

var (
	quitOnce sync.Once
	quitting = make(chan struct{})
)

// quit ends Main, from the menu's Quit or a notification's button.
func quit() { quitOnce.Do(func() { close(quitting) }) }
