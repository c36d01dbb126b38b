package tray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/debug"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
)

// BusName is claimed on the session bus so that only one tray runs per
// session.
const BusName = "org.wgtray.Tray"

// ErrAlreadyRunning is returned by Main when another tray owns BusName.
var ErrAlreadyRunning = errors.New("wgtray is already running in this session")

// trayMemoryLimit bounds the tray's heap once collection is left to it.
const trayMemoryLimit = 32 << 20

// quietRuntime keeps an idle tray from waking up: the Go runtime collects
// at least every two minutes while GOGC is on, even with nothing to do.
// With GOGC off only the soft memory limit starts a collection, which an
// idle tray never reaches. GOGC or GOMEMLIMIT in the environment win.
func quietRuntime() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(trayMemoryLimit)
	debug.SetGCPercent(-1)
}

// startTimeout bounds each call to the session bus at start-up.
const startTimeout = 10 * time.Second

// Main runs the tray until the user quits. Messages go to stderr; t
// bounds the calls to the helper (zero fields: the defaults).
func Main(stderr io.Writer, t Timeouts) error {
	if os.Geteuid() == 0 {
		return errors.New("the tray must not run as root: start it as your desktop user; it asks the root helper for what needs root")
	}
	session, err := dbus.SessionBus() // the connection fyne's systray uses too
	if err != nil {
		return fmt.Errorf("no session bus (is this a desktop session?): %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// Called by hand for the deadline: godbus's RequestName takes no
	// context. NameAcquired tells godbus of the name all the same.
	var reply dbus.RequestNameReply
	err = session.BusObject().CallWithContext(sctx, "org.freedesktop.DBus.RequestName", 0,
		BusName, uint32(dbus.NameFlagDoNotQueue)).Store(&reply)
	if err != nil {
		return fmt.Errorf("claim %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		// The running tray shows itself: its no-host advice with a Quit
		// button if it still has no tray host, else its status.
		if err := presentOther(sctx, session); err != nil {
			fmt.Fprintf(stderr, "wgtray: ask the running tray to show itself: %v\n", err)
		}
		return ErrAlreadyRunning
	}
	var advice string
	if !hasOwner(sctx, session, WatcherName) {
		advice = Advice(os.Getenv("XDG_CURRENT_DESKTOP"))
		fmt.Fprintln(stderr, "wgtray: no system tray host (StatusNotifierWatcher) on this desktop, so the icon cannot be shown yet.\n  "+
			advice+"\n  wgtray keeps running and shows its icon as soon as a tray host appears.")
	}
	quietRuntime()
	logger := log.New(stderr, "wgtray: ", 0)
	// systray takes the item's Id from the title set when it exports the
	// item: set it before, never after.
	systray.SetTitle(ItemID)
	systray.SetIcon(IconDisconnected.PNG())
	// The external loop's start returns once systray's objects are
	// exported, so that the tray's own item interface replaces them for
	// good (sni_linux.go); Run would export them while onReady runs.
	start, end := systray.RunWithExternalLoop(nil, nil)
	start()
	symbolic := wantsSymbolic(os.Getenv("XDG_CURRENT_DESKTOP"))
	themeDir, err := symbolicThemeDir()
	if err == nil {
		err = writeSymbolicTheme(themeDir)
	}
	if err != nil {
		logger.Printf("symbolic icons: %v", err)
		themeDir, symbolic = "", false
	}
	item, err := exportItem(session, themeDir, symbolic, IconDisconnected, "wgtray")
	if err != nil {
		logger.Printf("%v: left and middle clicks will do nothing", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	app := New(session, logger, t)
	app.desk.item, app.desk.advice = item, advice
	if private, err := dbus.ConnectSessionBus(); err != nil {
		logger.Printf("a second session bus connection: %v: a restarted panel may not show the icon again", err)
	} else {
		defer private.Close()
		app.desk.signals = private
		app.notifier = NewNotifier(private)
	}
	if advice != "" {
		app.notify(noticeNoHost(advice, false))
	}
	go func() {
		defer close(done)
		app.Run(ctx)
	}()
	<-quitting
	cancel()
	<-done
	end()
	return nil
}
