package tray_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/desktop"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/repo"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// testDesktop is a headless desktop session for one user (package
// internal/testenv/desktop), with what the tray's tests do in it.
type testDesktop struct {
	*desktop.Session
}

func requireDesktopTools(t *testing.T) {
	t.Helper()
	netns.RequireRoot(t)
	if tool := desktop.Missing("dunstctl", "xdotool", "import"); tool != "" {
		t.Skipf("skipping: %s not installed (sudo make test installs it)", tool)
	}
}

func startDesktop(t *testing.T, u sysbus.User) *testDesktop {
	t.Helper()
	return startDesktopWith(t, u, desktop.Options{})
}

func startDesktopWith(t *testing.T, u sysbus.User, o desktop.Options) *testDesktop {
	t.Helper()
	return &testDesktop{desktop.Start(t, u, o)}
}

// item is the tray's StatusNotifierItem as the panel sees it.
type item struct {
	*desktop.Item
	d *testDesktop
}

// findItem waits for an item to register with the watcher.
func (d *testDesktop) findItem(t *testing.T) *item {
	t.Helper()
	return &item{Item: d.FindItem(t), d: d}
}

func (it *item) tooltip(t *testing.T) string {
	var tip struct {
		Icon  string
		Image []struct {
			W, H int32
			Pix  []byte
		}
		Title, Text string
	}
	if err := it.Prop(t, "ToolTip").Store(&tip); err != nil {
		t.Fatal(err)
	}
	return tip.Title
}

func (it *item) iconPixels(t *testing.T) string {
	var px []struct {
		W, H int32
		Pix  []byte
	}
	if err := it.Prop(t, "IconPixmap").Store(&px); err != nil || len(px) == 0 {
		t.Fatalf("IconPixmap: %v", err)
	}
	return string(px[0].Pix)
}

// click sends the panel's "clicked" event for the line labelled label.
func (it *item) click(t *testing.T, label string) {
	t.Helper()
	for _, e := range it.Menu(t) {
		if e.Label == label {
			err := it.MenuObject(t).Call("com.canonical.dbusmenu.Event", 0,
				e.ID, "clicked", dbus.MakeVariant(int32(0)), uint32(time.Now().Unix())).Err
			if err != nil {
				t.Fatalf("click %q: %v", label, err)
			}
			return
		}
	}
	t.Fatalf("no menu line %q in %+v", label, it.Menu(t))
}

// waitMenu waits until the menu satisfies cond, checking again whenever
// the item sends a signal (dbusmenu's LayoutUpdated and
// ItemsPropertiesUpdated, the item's NewIcon and friends).
func (it *item) waitMenu(t *testing.T, what string, cond func([]desktop.MenuEntry) bool) {
	t.Helper()
	match := []dbus.MatchOption{dbus.WithMatchSender(it.Service)}
	if err := it.d.Conn.AddMatchSignal(match...); err != nil {
		t.Fatal(err)
	}
	defer it.d.Conn.RemoveMatchSignal(match...)
	sigs := make(chan *dbus.Signal, 64)
	it.d.Conn.Signal(sigs)
	defer it.d.Conn.RemoveSignal(sigs)
	timeout := time.After(20 * time.Second)
	for {
		last := it.Menu(t)
		if cond(last) {
			return
		}
		select {
		case <-sigs:
		case <-timeout:
			t.Fatalf("menu never showed %s; last: %+v", what, last)
		}
	}
}

// notifications returns what dunst has shown: closing them all moves the
// displayed ones into its history.
func (d *testDesktop) notifications(t *testing.T) string {
	t.Helper()
	closeAll := d.User.Command("dunstctl", "close-all")
	closeAll.Env = d.Env()
	closeAll.Run()
	cmd := d.User.Command("dunstctl", "history")
	cmd.Env = d.Env()
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func (d *testDesktop) waitNotification(t *testing.T, text string) {
	t.Helper()
	var got string
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		got = d.notifications(t)
		if strings.Contains(got, text) {
			return
		}
		if time.Now().After(deadline) {
			d.capture(t, filepath.Join(repo.Root(t), "build", "screenshots", "no-notification.png"))
			t.Fatalf("no notification %q within 20s; dunst's history: %s", text, got)
		}
		<-tick.C
	}
}

func (d *testDesktop) capture(t *testing.T, path string) []byte {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	shot := exec.Command("import", "-window", "root", "-crop", "640x220+0+0", path)
	shot.Env = d.Env()
	if out, err := shot.CombinedOutput(); err != nil {
		t.Fatalf("screenshot: %v: %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// screenshot opens the menu with a real click on the icon, waits until the
// screen shows it, and saves the screen under build/screenshots.
func (d *testDesktop) screenshot(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(repo.Root(t), "build", "screenshots")
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name+".png")
	before := d.capture(t, path)
	click := exec.Command("xdotool", "mousemove", "12", "15", "click", "1")
	click.Env = d.Env()
	if out, err := click.CombinedOutput(); err != nil {
		t.Fatalf("click the icon: %v: %s", err, out)
	}
	netns.WaitEvery(t, 10*time.Second, 100*time.Millisecond, "the menu on screen", func() bool {
		return string(d.capture(t, path)) != string(before)
	})
	esc := exec.Command("xdotool", "key", "Escape")
	esc.Env = d.Env()
	esc.Run()
	return path
}

// chooseInDialog waits for the file chooser titled title, types path into
// it as a user would and confirms.
func (d *testDesktop) chooseInDialog(t *testing.T, title, path string) {
	t.Helper()
	run := func(args ...string) string {
		cmd := exec.Command("xdotool", args...)
		cmd.Env = d.Env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("xdotool %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	var win string
	netns.WaitEvery(t, 30*time.Second, 100*time.Millisecond, "the file chooser "+title, func() bool {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", title)
		cmd.Env = d.Env()
		out, err := cmd.Output()
		win = strings.TrimSpace(strings.Split(string(out), "\n")[0])
		return err == nil && win != ""
	})
	run("windowfocus", "--sync", win)
	// The chooser opens its location entry on the first key and completes
	// file names as they are typed; keys sent before it has settled are
	// lost or taken wrong. So open the entry, wait until the screen stops
	// changing, type, wait again, and only then confirm.
	shot := filepath.Join(repo.Root(t), "build", "screenshots", "chooser-"+filepath.Base(path)+".png")
	settle := func(what string) {
		prev := d.capture(t, shot)
		netns.WaitEvery(t, 10*time.Second, 200*time.Millisecond, what, func() bool {
			cur := d.capture(t, shot)
			same := string(cur) == string(prev)
			prev = cur
			return same
		})
	}
	settle("the file chooser to draw")
	run("key", "ctrl+l")
	settle("the location entry to open")
	run("type", "--delay", "30", path)
	settle("the file chooser to settle")
	// Return may first only close a completion popup; press it until the
	// chooser is gone, as a person would.
	for try := 0; ; try++ {
		run("key", "Return")
		gone := false
		deadline := time.Now().Add(3 * time.Second)
		for !gone && time.Now().Before(deadline) {
			cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", title)
			cmd.Env = d.Env()
			out, _ := cmd.Output()
			gone = strings.TrimSpace(string(out)) == ""
			if !gone {
				settle("the file chooser after Return")
			}
		}
		if gone {
			return
		}
		if try == 3 {
			t.Fatalf("the file chooser did not accept %s", path)
		}
	}
}
