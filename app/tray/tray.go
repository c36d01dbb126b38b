package tray

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/app/tunnelname"
	"github.com/wgtray/wgtray/ipc"
)

// StatsEvery is how often a connected tunnel's statistics refresh. Nothing
// is refreshed while no tunnel is connected: the tray then waits on
// signals only.
const StatsEvery = 2 * time.Second

// App is the running tray. All its state lives in the goroutine of run;
// other goroutines hand it closures through do.
type App struct {
	session  *dbus.Conn
	notifier *Notifier
	logger   *log.Logger
	now      func() time.Time

	do chan func()

	// owned by the run goroutine
	helper  *ipc.Client
	model   Model
	entries []Entry
	items   []*systray.MenuItem
	gen     chan struct{} // closed when the menu is rebuilt
	icon    Icon
	tooltip string
	lost    map[string]bool
}

// New returns the tray app; session is the session bus connection that
// fyne's systray also uses.
func New(session *dbus.Conn, logger *log.Logger) *App {
	return &App{
		session: session, notifier: NewNotifier(session), logger: logger, now: time.Now,
		do: make(chan func(), 16), icon: -1, lost: map[string]bool{},
	}
}

// Run drives the tray until ctx ends: it follows the helper's signals and
// the user's clicks.
func (a *App) Run(ctx context.Context) {
	a.render()
	events := a.connect(ctx)
	a.render()
	var tick *time.Ticker
	var tickC <-chan time.Time
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
			if tick != nil {
				tick.Stop()
			}
			return
		case f := <-a.do:
			f()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			a.handle(ctx, ev)
		case <-tickC:
			a.refreshStats(ctx)
		}
		a.render()
	}
}

// connect dials the system bus, subscribes to the helper's signals and
// loads the tunnels.
func (a *App) connect(ctx context.Context) <-chan ipc.Event {
	c, err := ipc.Dial(ctx)
	if err != nil {
		a.logger.Printf("system bus: %v", err)
		a.model.HelperUp = false
		return nil
	}
	a.helper = c
	events, err := c.Watch(ctx)
	if err != nil {
		a.logger.Printf("watch the helper: %v", err)
	}
	a.reload(ctx)
	return events
}

// reload reads the tunnel list and the status of the connected ones.
func (a *App) reload(ctx context.Context) {
	ts, err := a.helper.List(ctx)
	if err != nil {
		if a.model.HelperUp {
			a.notify(ctx, noticeHelper(false))
		}
		a.model.HelperUp = false
		a.logger.Printf("list tunnels: %v", err)
		return
	}
	a.model.HelperUp = true
	a.model.SetList(ts, a.now())
	a.refreshStats(ctx)
}

func (a *App) refreshStats(ctx context.Context) {
	now := a.now()
	for i := range a.model.Tunnels {
		t := &a.model.Tunnels[i]
		if t.State != ipc.StateConnected {
			delete(a.lost, t.Name)
			continue
		}
		st, err := a.helper.Status(ctx, t.Name)
		if err != nil {
			continue
		}
		t.Endpoint, t.Handshake, t.Rx, t.Tx = st.Endpoint, st.LastHandshake, st.RxBytes, st.TxBytes
		t.DNS, t.Blocked = st.DNSManager, st.LeakGuard
		lost := t.Lost(now)
		if lost != a.lost[t.Name] {
			if lost {
				a.notify(ctx, noticeLost(t.Name))
			} else {
				a.notify(ctx, noticeRestored(t.Name))
			}
			a.lost[t.Name] = lost
		}
	}
}

func (a *App) handle(ctx context.Context, ev ipc.Event) {
	switch ev.Kind {
	case ipc.EventHelper:
		if ev.HelperUp == a.model.HelperUp {
			return
		}
		if !ev.HelperUp {
			a.model.HelperUp = false
			for i := range a.model.Tunnels {
				a.model.Tunnels[i].State = ipc.StateDisconnected
			}
			a.notify(ctx, noticeHelper(false))
			return
		}
		a.reload(ctx)
		if a.model.HelperUp {
			a.notify(ctx, noticeHelper(true))
		}
	case ipc.EventState:
		ch := ev.Change
		t := a.model.Find(ch.Name)
		if t == nil {
			a.reload(ctx) // a tunnel imported elsewhere
			t = a.model.Find(ch.Name)
			if t == nil {
				return
			}
		}
		t.State = ch.State
		switch ch.State {
		case ipc.StateConnected:
			t.Since = a.now()
			a.model.Failed = ""
			a.refreshStats(ctx)
		case ipc.StateDisconnected:
			t.Since, t.Handshake, t.Rx, t.Tx = time.Time{}, 0, 0, 0
			t.DNS, t.Blocked = "", nil
			delete(a.lost, ch.Name)
			if strings.HasPrefix(ch.Message, "failed: ") {
				a.model.Failed = strings.TrimPrefix(ch.Message, "failed: ")
			}
		}
		if n, ok := NoticeFor(ch); ok {
			a.notify(ctx, n)
		}
	}
}

func (a *App) notify(ctx context.Context, n Notice) {
	if err := a.notifier.Show(ctx, n); err != nil {
		a.logger.Print(err)
	}
}

// render brings the icon, tooltip and menu in line with the model.
func (a *App) render() {
	now := a.now()
	if icon := a.model.Icon(now); icon != a.icon {
		systray.SetIcon(icon.PNG())
		a.icon = icon
	}
	if tip := a.model.Tooltip(now); tip != a.tooltip {
		systray.SetTooltip(tip)
		systray.SetTitle("wgtray")
		a.tooltip = tip
	}
	entries := a.model.Menu(now)
	if sameShape(entries, a.entries) {
		for i, e := range entries {
			if e == a.entries[i] || a.items[i] == nil {
				continue
			}
			it := a.items[i]
			it.SetTitle(e.Title)
			if e.Kind == EntryTunnel {
				if e.Checked {
					it.Check()
				} else {
					it.Uncheck()
				}
			}
			if e.Enabled {
				it.Enable()
			} else {
				it.Disable()
			}
		}
		a.entries = entries
		return
	}
	a.rebuild(entries)
}

func sameShape(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Tunnel != b[i].Tunnel {
			return false
		}
	}
	return true
}

// rebuild replaces the whole menu, which the tunnel list changing needs:
// systray can only append items.
func (a *App) rebuild(entries []Entry) {
	if a.gen != nil {
		close(a.gen)
	}
	a.gen = make(chan struct{})
	systray.ResetMenu()
	a.items = make([]*systray.MenuItem, len(entries))
	for i, e := range entries {
		var it *systray.MenuItem
		switch e.Kind {
		case EntrySeparator:
			systray.AddSeparator()
			continue
		case EntryTunnel:
			it = systray.AddMenuItemCheckbox(e.Title, "Connect or disconnect "+e.Tunnel, e.Checked)
		default:
			it = systray.AddMenuItem(e.Title, "")
		}
		if !e.Enabled {
			it.Disable()
		}
		a.items[i] = it
		if e.Kind != EntryInfo {
			go a.forwardClicks(it, i, a.gen)
		}
	}
	a.entries = entries
}

// forwardClicks hands the clicks of one menu item to the run goroutine
// until the menu is rebuilt.
func (a *App) forwardClicks(it *systray.MenuItem, i int, gen chan struct{}) {
	for {
		select {
		case <-gen:
			return
		case <-it.ClickedCh:
			select {
			case a.do <- func() { a.clicked(i, gen) }:
			case <-gen:
				return
			}
		}
	}
}

func (a *App) clicked(i int, gen chan struct{}) {
	if gen != a.gen || i >= len(a.entries) {
		return // a click on a menu that is gone
	}
	e := a.entries[i]
	if !e.Enabled {
		return
	}
	switch e.Kind {
	case EntryTunnel:
		a.toggle(e.Tunnel, e.Checked)
	case EntryImport:
		go a.importFile()
	case EntryQuit:
		systray.Quit()
	}
}

// toggle connects or disconnects in the background: Connect can wait for
// a password prompt, and the tray must stay responsive meanwhile.
func (a *App) toggle(name string, connected bool) {
	helper := a.helper
	if helper == nil {
		return
	}
	go func() {
		ctx := context.Background()
		var err error
		if connected {
			err = helper.Disconnect(ctx, name)
		} else {
			err = helper.Connect(ctx, name)
		}
		a.do <- func() { a.actionDone(ctx, name, err) }
	}()
}

// actionDone records an action's result. Failures of the tunnel itself
// were announced by the helper's StateChanged; the rest (not authorized,
// no such tunnel, hooks disabled…) never reached a state change, so they
// are announced here.
func (a *App) actionDone(ctx context.Context, name string, err error) {
	switch {
	case err == nil:
		a.model.Denied = false
	case errors.Is(err, ipc.ErrAccessDenied):
		a.model.Denied = true
		a.notify(ctx, Notice{Key: name, Summary: "Not allowed to control tunnels", Body: "Ask to be added to group wgtray.", Urgent: true})
	case errors.Is(err, ipc.ErrFailed):
		a.model.Failed = err.Error()
	default:
		a.model.Failed = err.Error()
		a.notify(ctx, Notice{Key: name, Summary: "Could not change " + name, Body: err.Error(), Urgent: true})
	}
}

// importFile asks for a file, reads it as the user and sends its text to
// the helper.
func (a *App) importFile() {
	ctx := context.Background()
	path, err := ChooseFile(ctx, a.session, "Import WireGuard tunnel")
	if err != nil {
		a.do <- func() {
			a.notify(ctx, Notice{Key: "import", Summary: "Import failed", Body: err.Error(), Urgent: true})
		}
		return
	}
	if path == "" {
		return // cancelled
	}
	name, err := a.ImportPath(ctx, path)
	a.do <- func() {
		if err != nil {
			if errors.Is(err, ipc.ErrAccessDenied) {
				a.model.Denied = true
			}
			a.notify(ctx, Notice{Key: "import", Summary: "Could not import " + path, Body: err.Error(), Urgent: true})
			return
		}
		a.notify(ctx, Notice{Key: "import", Summary: "Imported tunnel " + name})
		a.reload(ctx)
	}
}

// ImportPath reads path as the user and imports it under a name made from
// the file's name.
func (a *App) ImportPath(ctx context.Context, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(data) > ipc.MaxConfigSize {
		return "", fmt.Errorf("%s is larger than 64 KiB", path)
	}
	if a.helper == nil {
		return "", errors.New("wgtray-helper is not reachable")
	}
	name := tunnelname.FromFile(path)
	return name, a.helper.Import(ctx, name, string(data))
}
