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
// and its action (a click on it, as dunstctl action performs it) opens
// the whole report in zenity's text view.
// waitCheck bounds the wait for the check's notification: the helper's
// probes take a few seconds.
const waitCheck = 60 * time.Second

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
	// The notification's action, as a click on it performs it.
	netns.WaitEvery(t, waitCheck, 100*time.Millisecond, "the check's notification on screen", func() bool {
		cmd := d.User.Command("dunstctl", "count", "displayed")
		cmd.Env = d.Env()
		out, _ := cmd.Output()
		return strings.TrimSpace(string(out)) != "0"
	})
	act := d.User.Command("dunstctl", "action", "0")
	act.Env = d.Env()
	if out, err := act.CombinedOutput(); err != nil {
		t.Fatalf("dunstctl action: %v: %s", err, out)
	}
	netns.WaitEvery(t, 30*time.Second, 200*time.Millisecond, "zenity's report window", func() bool {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", "wgtray doctor")
		cmd.Env = d.Env()
		out, err := cmd.Output()
		return err == nil && strings.TrimSpace(string(out)) != ""
	})
	hist := d.notifications(t)
	var h struct {
		Data [][]struct {
			Summary struct{ Data string } `json:"summary"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(hist), &h); err != nil || len(h.Data) == 0 {
		t.Fatalf("dunst's history %q: %v", hist, err)
	}
	found := false
	for _, n := range h.Data[0] {
		if strings.HasPrefix(n.Summary.Data, w.tunnel+": ") {
			found = true
			if !strings.Contains(n.Summary.Data, "problem") {
				t.Errorf("summary %q does not count problems", n.Summary.Data)
			}
		}
	}
	if !found {
		t.Errorf("no notification of the check in %s", hist)
	}
	if st := w.state(t); st != ipc.StateConnected {
		t.Errorf("the check changed the tunnel: %s", st)
	}
}
