package tray_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestTrayKillSwitch drives the kill switch's lines in a real panel: a
// connected full tunnel shows "Block traffic outside the tunnel" checked
// (its default); clicking it turns the kill switch off in the helper;
// clicking "Lockdown" with no tunnel up blocks, and the tooltip says
// "blocked" with one notification; clicking it again lifts it.
func TestTrayKillSwitch(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
	it.click(t, w.tunnel)
	it.waitMenu(t, "the kill switch line, checked", all(toggled(w.tunnel, true), toggled(tray.TextKillSwitch, true)))
	it.waitMenu(t, "the lockdown line, unchecked", toggled(tray.TextLockdown, false))
	ctx := context.Background()
	it.click(t, tray.TextKillSwitch)
	it.waitMenu(t, "the kill switch line, unchecked", toggled(tray.TextKillSwitch, false))
	if st, err := w.client(t).Status(ctx, w.tunnel); err != nil || st.KillSwitch || st.Blocking {
		t.Errorf("after the click: killSwitch %v blocking %v (%v)", st.KillSwitch, st.Blocking, err)
	}
	it.click(t, w.tunnel)
	it.waitMenu(t, "the tunnel unchecked", toggled(w.tunnel, false))

	it.click(t, tray.TextLockdown)
	it.waitMenu(t, "lockdown checked", all(toggled(tray.TextLockdown, true), hasLine("Traffic outside the tunnel is blocked")))
	if tip := it.tooltip(t); !strings.Contains(tip, "blocked") {
		t.Errorf("tooltip %q, want it to say blocked", tip)
	}
	d.waitNotification(t, "Traffic is blocked")
	d.screenshot(t, "tray-blocked")
	if on, blocking, err := w.client(t).Lockdown(ctx); !on || !blocking || err != nil {
		t.Errorf("helper: lockdown %v blocking %v (%v)", on, blocking, err)
	}
	it.click(t, tray.TextLockdown)
	it.waitMenu(t, "lockdown unchecked", all(toggled(tray.TextLockdown, false), lacksLine("Traffic outside the tunnel is blocked")))
	if tip := it.tooltip(t); strings.Contains(tip, "blocked") {
		t.Errorf("tooltip %q after lockdown off", tip)
	}
	if st := w.state(t); st != ipc.StateDisconnected {
		t.Errorf("state %s", st)
	}
}
