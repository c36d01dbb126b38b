package tray

import (
	"context"

	"fyne.io/systray"
)

// followDesktop starts following what the desktop sends the tray: clicks
// on the item, notification buttons, a tray host appearing. A failure
// costs only that feature, so it is logged.
func (a *App) followDesktop(ctx context.Context) {
	if err := a.notifier.Actions(ctx, func(na NoticeAction) {
		select {
		case a.do <- func() { na.Do(ctx) }:
		case <-ctx.Done():
		}
	}); err != nil {
		a.logger.Print(err)
	}
	if err := a.followWatcher(ctx, a.hostAppeared); err != nil {
		a.logger.Printf("follow the tray host: %v", err)
	}
	if err := a.exportPresent(ctx); err != nil {
		a.logger.Printf("export %s: %v", trayPath, err)
	}
	if a.desk.item == nil {
		return
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.desk.item.Clicks():
				select {
				case a.do <- func() { a.activated(ctx) }:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
}

// showIcon and showTooltip draw through the tray's own item properties
// once they are exported (sni_linux.go), through systray's before.
func (a *App) showIcon(i Icon) {
	if a.desk.item != nil {
		a.desk.item.SetIcon(i)
		return
	}
	systray.SetIcon(i.PNG())
}

func (a *App) showTooltip(tip string) {
	if a.desk.item != nil {
		a.desk.item.SetTooltip(tip)
		return
	}
	systray.SetTooltip(tip)
}
