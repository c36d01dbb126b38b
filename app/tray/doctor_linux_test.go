package tray_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestTrayCheckConnection: under a connected tunnel, "Check connection…"
// runs the helper's checks; the line says so while they run; the
// outcome comes as a notification whose summary counts the problems,
// and its action "Show full report" (here invoked as dunst does, with
// ActionInvoked) opens the whole report in zenity's text view.
func TestTrayCheckConnection(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	if err := w.client(t).Connect(context.Background(), w.tunnel); err != nil {
		t.Fatal(err)
	}
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the check line", hasLine(strings.TrimSpace(tray.TextCheck)))
	it.click(t, tray.TextCheck)
	d.waitNotification(t, w.tunnel+": ")
	hist := d.notifications(t)
	var h struct {
		Data [][]struct {
			ID      struct{ Data int64 }  `json:"id"`
			Summary struct{ Data string } `json:"summary"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(hist), &h); err != nil || len(h.Data) == 0 {
		t.Fatalf("dunst's history %q: %v", hist, err)
	}
	var id int64
	for _, n := range h.Data[0] {
		if strings.HasPrefix(n.Summary.Data, w.tunnel+": ") {
			id = n.ID.Data
			if !strings.Contains(n.Summary.Data, "problem") {
				t.Errorf("summary %q does not count problems", n.Summary.Data)
			}
		}
	}
	if id == 0 {
		t.Fatalf("no notification of the check in %s", hist)
	}
	if err := d.Conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", uint32(id), "report"); err != nil {
		t.Fatal(err)
	}
	netns.WaitEvery(t, 30*time.Second, 200*time.Millisecond, "zenity's report window", func() bool {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", "wgtray doctor")
		cmd.Env = d.Env()
		out, err := cmd.Output()
		return err == nil && strings.TrimSpace(string(out)) != ""
	})
	if st := w.state(t); st != ipc.StateConnected {
		t.Errorf("the check changed the tunnel: %s", st)
	}
}
