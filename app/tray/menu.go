package tray

import (
	"context"

	"fyne.io/systray"
)

// render brings the icon, tooltip and menu in line with the model.
func (a *App) render(ctx context.Context) {
	now := a.now()
	if icon := a.model.Icon(now); icon != a.icon {
		a.showIcon(icon)
		a.icon = icon
	}
	if tip := a.model.Tooltip(now); tip != a.tooltip {
		a.showTooltip(tip)
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
			if checkable(e.Kind) {
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
	a.rebuild(ctx, entries)
}

// checkable reports whether a menu line of kind k has a check mark.
func checkable(k EntryKind) bool {
	return k == EntryTunnel || k == EntryKillSwitch || k == EntryLockdown || k == EntryLogin || k == EntryAutostart
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
func (a *App) rebuild(ctx context.Context, entries []Entry) {
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
		case EntryLogin, EntryAutostart:
			it = systray.AddMenuItemCheckbox(e.Title, "", e.Checked)
		case EntryKillSwitch:
			it = systray.AddMenuItemCheckbox(e.Title, "Block every packet that does not go through "+e.Tunnel, e.Checked)
		case EntryLockdown:
			it = systray.AddMenuItemCheckbox(e.Title, "Block traffic outside a tunnel even when none is connected", e.Checked)
		default:
			it = systray.AddMenuItem(e.Title, "")
		}
		if !e.Enabled {
			it.Disable()
		}
		a.items[i] = it
		if e.Kind != EntryInfo {
			go a.forwardClicks(ctx, it, i, a.gen)
		}
	}
	a.entries = entries
}

// forwardClicks hands the clicks of one menu item to the run goroutine
// until the menu is rebuilt. systray drops a click nobody is waiting for;
// the run goroutine never blocks, so this one is back waiting at once.
func (a *App) forwardClicks(ctx context.Context, it *systray.MenuItem, i int, gen chan struct{}) {
	for {
		select {
		case <-gen:
			return
		case <-ctx.Done():
			return
		case <-it.ClickedCh:
			select {
			case a.do <- func() { a.clicked(ctx, i, gen) }:
			case <-gen:
				return
			case <-ctx.Done():
				return
			}
		}
	}
}

func (a *App) clicked(ctx context.Context, i int, gen chan struct{}) {
	if gen != a.gen || i >= len(a.entries) {
		return // a click on a menu that is gone
	}
	e := a.entries[i]
	if !e.Enabled {
		return
	}
	switch e.Kind {
	case EntryTunnel:
		a.toggle(ctx, e.Tunnel, e.Checked)
	case EntryImport:
		a.startImport(ctx)
	case EntryRetry:
		a.retry(ctx)
	case EntryLogin:
		if err := a.model.Login.setConnect(e.Tunnel, !e.Checked); err != nil {
			a.model.Failed = err.Error()
		}
	case EntryAutostart:
		if err := a.model.Login.setAutostart(!e.Checked); err != nil {
			a.model.Failed = err.Error()
		}
	case EntryKillSwitch:
		a.setOption(ctx, e.Tunnel, "kill-switch", !e.Checked)
	case EntryLockdown:
		a.setOption(ctx, "", "lockdown", !e.Checked)
	case EntryCheck:
		a.check(ctx, e.Tunnel)
	case EntryQuit:
		quit()
	}
}
