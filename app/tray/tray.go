package tray

import (
	"context"
	"log"
	"os"
	"strings"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/ipc"
)

// StatsEvery is how often a connected tunnel's statistics refresh. Nothing
// is refreshed while no tunnel is connected: the tray then waits on
// signals only.
const StatsEvery = 2 * time.Second

// Timeouts bound the tray's calls to the helper. Every call has one, and
// none runs on the run goroutine, so a helper that does not answer delays
// only the call itself: the menu keeps answering meanwhile.
type Timeouts struct {
	// Read bounds dialling the system bus, List and Status. It covers
	// D-Bus activation too: the first call to a helper that is not
	// running starts it, which the bus allows 25 seconds.
	Read time.Duration
	// Change bounds Connect, Disconnect and Import, which may wait for a
	// person typing a password into polkit's dialog and then for the
	// helper's work. It is longer than the helper's own bounds (2 minutes
	// for the password, 2 for the change), so that the tray reports the
	// helper's answer rather than its own impatience.
	Change time.Duration
}

// The default Timeouts.
const (
	ReadTimeout   = 30 * time.Second
	ChangeTimeout = 5 * time.Minute
)

// notifyTimeout bounds a call to the notification daemon, which answers at
// once. Notices are shown one at a time, in order, so a hung daemon delays
// the next one by this much and never the menu.
const notifyTimeout = 5 * time.Second

// Redialling the system bus after its connection closed starts at once
// and backs off to redialMax while the bus stays away; a click or the menu
// opening tries at once again.
const (
	redialFirst = 500 * time.Millisecond
	redialMax   = time.Minute
)

// App is the running tray. All its state lives in the goroutine of Run,
// which never waits for D-Bus: calls run in goroutines of their own and
// hand their results back as closures through do.
type App struct {
	session  *dbus.Conn
	notifier *Notifier
	logger   *log.Logger
	now      func() time.Time
	timeouts Timeouts

	do      chan func()
	notices chan Notice

	// owned by the run goroutine
	helper    *ipc.Client      // nil while not connected to the system bus
	events    <-chan ipc.Event // helper's, closed when its connection closes
	dialing   bool             // a dial is in flight
	afterDial []func(error)    // what waits for the dial in flight
	redial    *time.Timer      // the next dial after a failure, if any
	redialC   <-chan time.Time
	backoff   time.Duration
	listing   bool // a List is in flight
	relist    bool // and another was asked for meanwhile
	statting  bool // a statistics refresh is in flight
	downShown bool // "wgtray-helper is unavailable" was shown

	model   Model
	entries []Entry
	items   []*systray.MenuItem
	gen     chan struct{} // closed when the menu is rebuilt
	icon    Icon
	tooltip string
	stalled map[string]bool // tunnels whose stall was announced
	// loggedIn is set once the tunnels to connect at login were
	// connected (or found connected), at the first list of tunnels.
	loggedIn bool
	desk     desktopState // the panel's side: desktop.go
}

// New returns the tray app; session is the session bus connection that
// fyne's systray also uses. Zero fields of t take the defaults.
func New(session *dbus.Conn, logger *log.Logger, t Timeouts) *App {
	if t.Read <= 0 {
		t.Read = ReadTimeout
	}
	if t.Change <= 0 {
		t.Change = ChangeTimeout
	}
	a := &App{
		session: session, notifier: NewNotifier(session), logger: logger, now: time.Now, timeouts: t,
		do: make(chan func(), 16), notices: make(chan Notice, 32), icon: -1, stalled: map[string]bool{},
	}
	// The login settings are the user's, in their XDG config directory;
	// without one (no HOME) the menu leaves them out.
	if dir, err := os.UserConfigDir(); err == nil {
		p := loadLogin(dir)
		a.model.Login = &p
	}
	return a
}

// Run drives the tray until ctx ends: it follows the helper's signals and
// the user's clicks.
func (a *App) Run(ctx context.Context) {
	go a.showNotices(ctx)
	a.followDesktop(ctx)
	opened := forwardOpened(ctx)
	a.dial(ctx)
	a.render(ctx)
	var tick *time.Ticker
	var tickC <-chan time.Time
	defer func() {
		if tick != nil {
			tick.Stop()
		}
		a.stopRedial()
		if a.helper != nil {
			a.helper.Close()
		}
	}()
	for {
		// Refresh statistics only while a tunnel is connected.
		if a.model.AnyConnected() && tick == nil {
			tick = time.NewTicker(StatsEvery)
			tickC = tick.C
		} else if !a.model.AnyConnected() && tick != nil {
			tick.Stop()
			tick, tickC = nil, nil
		}
		select {
		case <-ctx.Done():
			return
		case f := <-a.do:
			f()
		case ev, ok := <-a.events:
			if !ok {
				a.busLost(ctx)
				break
			}
			a.noteUsed(ev)
			a.handle(ctx, ev)
		case <-tickC:
			a.refreshStats(ctx)
		case <-a.redialC:
			a.redial, a.redialC = nil, nil
			a.dial(ctx)
		case <-opened:
			a.retry(ctx)
		}
		a.render(ctx)
	}
}

// forwardOpened passes on systray's "menu opened" events, which hosts such
// as KDE's and GNOME's AppIndicator send. systray drops an event nobody
// is waiting for, so this waits all the time and coalesces.
func forwardOpened(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-systray.TrayOpenedCh:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

// handle applies one of the helper's signals.
func (a *App) handle(ctx context.Context, ev ipc.Event) {
	switch ev.Kind {
	case ipc.EventHelper:
		if ev.HelperUp {
			a.reload(ctx) // it missed nothing we know of, but we missed its signals
			return
		}
		for i := range a.model.Tunnels {
			a.model.Tunnels[i].State = ipc.StateDisconnected
		}
		a.helperDown()
	case ipc.EventState:
		ch := ev.Change
		t := a.model.Find(ch.Name)
		if t == nil {
			a.reload(ctx) // a tunnel imported elsewhere: the list has its state
			return
		}
		t.State = ch.State
		switch ch.State {
		case ipc.StateConnected:
			a.model.Failed = ""
			a.refreshStats(ctx)
		case ipc.StateDisconnected:
			t.Handshake, t.Rx, t.Tx = 0, 0, 0
			t.DNS, t.Blocked = "", nil
			a.clearHealth(t)
			if strings.HasPrefix(ch.Message, "failed: ") {
				a.model.Failed = strings.TrimPrefix(ch.Message, "failed: ")
			}
		}
		if ch.State != ipc.StateConnected {
			a.clearHealth(t)
		}
		if n, ok := NoticeFor(ch); ok {
			a.notify(n)
		}
		// A kill switch comes and goes with its tunnel.
		a.refreshBlock(ctx)
	case ipc.EventHealth:
		h := ev.Health
		if t := a.model.Find(h.Name); t != nil {
			a.setHealth(t, h.Health, h.Peer, h.Since)
		}
	}
}

// helperDown records that the helper cannot be reached, announcing it
// once.
func (a *App) helperDown() {
	if a.model.HelperUp {
		a.notify(noticeHelper(false))
		a.downShown = true
	}
	a.model.HelperUp = false
}

// notify queues n for showNotices; it never waits.
func (a *App) notify(n Notice) {
	select {
	case a.notices <- n:
	default:
		a.logger.Printf("notification %q dropped: the notification daemon is not keeping up", n.Summary)
	}
}

// showNotices shows the queued notices in order, each call bounded.
func (a *App) showNotices(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-a.notices:
			nctx, cancel := context.WithTimeout(ctx, notifyTimeout)
			if err := a.notifier.Show(nctx, n); err != nil {
				a.logger.Print(err)
			}
			cancel()
		}
	}
}
