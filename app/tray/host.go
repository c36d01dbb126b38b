package tray

import (
	"context"
	"strings"

	"github.com/godbus/dbus/v5"
)

// WatcherName is the StatusNotifierWatcher's bus name: the panel's (or a
// stand-alone watcher's) side of the tray protocol. Without it no icon
// can show.
const WatcherName = "org.kde.StatusNotifierWatcher"

// Advice says what to do on the desktop named in XDG_CURRENT_DESKTOP so
// that a StatusNotifierItem can show.
func Advice(xdgCurrentDesktop string) string {
	desktops := strings.Split(strings.ToUpper(xdgCurrentDesktop), ":")
	has := func(names ...string) bool {
		for _, d := range desktops {
			for _, n := range names {
				if d == n {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("GNOME", "UBUNTU", "POP", "UNITY"):
		return "GNOME shows tray icons only with the AppIndicator extension: install gnome-shell-extension-appindicator " +
			"(Debian/Ubuntu and Fedora) and turn it on in the Extensions app " +
			"(or: gnome-extensions enable ubuntu-appindicators@ubuntu.com on Debian/Ubuntu, appindicatorsupport@rgcjonas.gmail.com on Fedora; " +
			"log in again if it is not listed)."
	case has("X-CINNAMON", "CINNAMON"):
		return "Cinnamon shows tray icons of this kind only with xapp-sn-watcher: install xapp-sn-watcher, then log out and in again."
	default:
		return "This desktop has no system tray that shows StatusNotifierItem icons (nothing owns " + WatcherName +
			" on the session bus): add a system tray or status notifier to the panel. " +
			"Meanwhile the command line works: wgtray status, wgtray connect NAME."
	}
}

// noHostKey is the no-host notification's key: it is withdrawn when a
// host appears.
const noHostKey = "host"

// noticeNoHost tells the user the icon cannot be shown, what to do, and
// offers to quit, which is otherwise impossible without an icon.
func noticeNoHost(advice string, again bool) Notice {
	summary := "wgtray cannot show its icon"
	if again {
		summary = "wgtray is running, but cannot show its icon"
	}
	return Notice{Key: noHostKey, Summary: summary, Urgent: true,
		Body:    advice + " The icon appears as soon as a tray is there.",
		Actions: []NoticeAction{{Key: "quit", Label: "Quit wgtray", Do: func(context.Context) { quit() }}}}
}

// hasOwner reports whether name has an owner on conn's bus.
func hasOwner(ctx context.Context, conn *dbus.Conn, name string) bool {
	var has bool
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	return err == nil && has
}

// followWatcher calls appeared, on the run goroutine, each time a
// StatusNotifierWatcher takes its name. systray registers the item with
// it by itself; the tray withdraws its no-host notification.
func (a *App) followWatcher(ctx context.Context, appeared func(context.Context)) error {
	match := []dbus.MatchOption{
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, WatcherName),
	}
	mctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	conn := a.signalConn()
	if err := conn.AddMatchSignalContext(mctx, match...); err != nil {
		return err
	}
	sigs := make(chan *dbus.Signal, 8)
	conn.Signal(sigs)
	go func() {
		defer conn.RemoveSignal(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == nil {
					return
				}
				if s.Name != "org.freedesktop.DBus.NameOwnerChanged" || len(s.Body) != 3 || s.Body[0] != WatcherName {
					continue
				}
				if owner, _ := s.Body[2].(string); owner != "" {
					select {
					case a.do <- func() { appeared(ctx) }:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	return nil
}

// signalConn is the session bus connection for calls answered by signals.
func (a *App) signalConn() *dbus.Conn {
	if a.desk.signals != nil {
		return a.desk.signals
	}
	return a.session
}
