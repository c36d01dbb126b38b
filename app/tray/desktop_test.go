package tray_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/testbus"
	"github.com/wgtray/wgtray/helper/testnet"
)

// desktop is a headless desktop session for one user: Xvfb, a session bus,
// xfce4-panel with only its systray plugin (a real StatusNotifierWatcher
// and host) and dunst as the notification daemon.
type desktop struct {
	user     testbus.User
	noPortal bool
	noPanel  bool
	display  string
	dir      string // the user's HOME and XDG_RUNTIME_DIR live here
	busAddr  string
	conn     *dbus.Conn // the test's own connection to the session bus
}

const panelConfig = `<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
`

// sessionConfig lets root (the test) and the user share the bus.
const sessionConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

func requireDesktopTools(t *testing.T) {
	t.Helper()
	testnet.RequireRoot(t)
	for _, tool := range []string{"Xvfb", "xfce4-panel", "dunst", "dunstctl", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (sudo make test installs it)", tool)
		}
	}
}

// freeDisplay picks an X display number nobody uses.
func freeDisplay() string {
	for n := 90 + os.Getpid()%50; ; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); os.IsNotExist(err) {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); os.IsNotExist(err) {
				return fmt.Sprintf(":%d", n)
			}
		}
	}
}

func startDesktop(t *testing.T, u testbus.User) *desktop {
	t.Helper()
	return startDesktopWith(t, u, false)
}

// startDesktopWith can leave xdg-desktop-portal out of the session: the
// bus then offers only xfconf for activation.
func startDesktopWith(t *testing.T, u testbus.User, noPortal bool) *desktop {
	t.Helper()
	return startSession(t, &desktop{user: u, noPortal: noPortal})
}

// startSession starts d's session; the panel only unless d.noPanel.
func startSession(t *testing.T, d *desktop) *desktop {
	t.Helper()
	u, noPortal := d.user, d.noPortal
	d.display, d.dir = freeDisplay(), testbus.PublicDir(t)
	run := filepath.Join(d.dir, "run")
	conf := filepath.Join(d.dir, "home/.config/xfce4/xfconf/xfce-perchannel-xml")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(run, 0o700)
	os.WriteFile(filepath.Join(conf, "xfce4-panel.xml"), []byte(panelConfig), 0o644)
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), d.dir+"/home", run).Run()
	if noPortal {
		services := filepath.Join(d.dir, "data/dbus-1/services")
		os.MkdirAll(services, 0o755)
		b, err := os.ReadFile("/usr/share/dbus-1/services/org.xfce.Xfconf.service")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(services, "org.xfce.Xfconf.service"), b, 0o644)
	}
	sock := filepath.Join(run, "bus")
	d.busAddr = "unix:path=" + sock
	os.WriteFile(filepath.Join(d.dir, "session.conf"), []byte(fmt.Sprintf(sessionConfig, sock)), 0o644)

	// A killed Xvfb leaves its socket and lock behind: remove them after
	// it (cleanups run last-registered first).
	t.Cleanup(func() {
		os.Remove("/tmp/.X11-unix/X" + d.display[1:])
		os.Remove("/tmp/.X" + d.display[1:] + "-lock")
	})
	d.start(t, false, "Xvfb", d.display, "-screen", "0", "800x300x24", "-nolisten", "tcp")
	testnet.WaitFor(t, 10*time.Second, "Xvfb", func() bool {
		_, err := os.Stat("/tmp/.X11-unix/X" + d.display[1:])
		return err == nil
	})
	bus := d.user.Command("dbus-daemon", "--config-file="+filepath.Join(d.dir, "session.conf"), "--nofork", "--nopidfile")
	bus.Env = d.env()
	if noPortal {
		// The session bus finds activatable services through
		// XDG_DATA_DIRS: offer it only xfconf's.
		bus.Env = append(bus.Env, "XDG_DATA_DIRS="+d.dir+"/data")
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	testnet.WaitFor(t, 10*time.Second, "the session bus", func() bool {
		c, err := dbus.Connect(d.busAddr)
		if err != nil {
			return false
		}
		d.conn = c
		return true
	})
	t.Cleanup(func() { d.conn.Close() })
	d.start(t, true, "dunst")
	d.waitName(t, "org.freedesktop.Notifications", 10*time.Second)
	if !d.noPanel {
		d.startPanel(t)
	}
	return d
}

// startPanel starts xfce4-panel and waits for its systray's watcher.
func (d *desktop) startPanel(t *testing.T) {
	t.Helper()
	d.start(t, true, "xfce4-panel")
	d.waitName(t, "org.kde.StatusNotifierWatcher", 20*time.Second)
}

// env is the user's session environment. The portal picks its GTK
// backend for GNOME desktops.
func (d *desktop) env(extra ...string) []string {
	env := append(os.Environ(), "DISPLAY="+d.display, "DBUS_SESSION_BUS_ADDRESS="+d.busAddr,
		"HOME="+d.dir+"/home", "XDG_CONFIG_HOME="+d.dir+"/home/.config", "XDG_RUNTIME_DIR="+d.dir+"/run",
		"NO_AT_BRIDGE=1", "GTK_A11Y=none", "XDG_CURRENT_DESKTOP=GNOME")
	return append(env, extra...)
}

// start runs argv in the session, as the user when asUser.
func (d *desktop) start(t *testing.T, asUser bool, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if asUser {
		cmd = d.user.Command(argv...)
	}
	cmd.Env = d.env()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func (d *desktop) waitName(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	testnet.WaitFor(t, timeout, name+" on the session bus", func() bool {
		var has bool
		d.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		return has
	})
}

// item is the tray's StatusNotifierItem as the panel sees it.
type item struct {
	d       *desktop
	service string
	path    dbus.ObjectPath
}

// findItem waits for an item to register with the watcher.
func (d *desktop) findItem(t *testing.T) *item {
	t.Helper()
	var it *item
	testnet.WaitFor(t, 20*time.Second, "a StatusNotifierItem to register", func() bool {
		v, err := d.conn.Object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher").GetProperty("org.kde.StatusNotifierWatcher.RegisteredStatusNotifierItems")
		if err != nil {
			return false
		}
		items, _ := v.Value().([]string)
		if len(items) == 0 {
			return false
		}
		service, path, _ := strings.Cut(items[0], "/")
		it = &item{d: d, service: service, path: dbus.ObjectPath("/" + path)}
		return true
	})
	return it
}

func (it *item) prop(t *testing.T, name string) dbus.Variant {
	t.Helper()
	v, err := it.d.conn.Object(it.service, it.path).GetProperty("org.kde.StatusNotifierItem." + name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return v
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
	if err := it.prop(t, "ToolTip").Store(&tip); err != nil {
		t.Fatal(err)
	}
	return tip.Title
}

func (it *item) iconPixels(t *testing.T) string {
	var px []struct {
		W, H int32
		Pix  []byte
	}
	if err := it.prop(t, "IconPixmap").Store(&px); err != nil || len(px) == 0 {
		t.Fatalf("IconPixmap: %v", err)
	}
	return string(px[0].Pix)
}

// menuEntry is one line of the dbusmenu layout.
type menuEntry struct {
	ID      int32
	Label   string
	Enabled bool
	Toggled bool
}

type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func (it *item) menu(t *testing.T) []menuEntry {
	t.Helper()
	var menuPath dbus.ObjectPath
	it.prop(t, "Menu").Store(&menuPath)
	obj := it.d.conn.Object(it.service, menuPath)
	obj.Call("com.canonical.dbusmenu.AboutToShow", 0, int32(0))
	var rev uint32
	var root layout
	if err := obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	var out []menuEntry
	for _, c := range root.Children {
		var l layout
		if err := dbus.Store([]any{c.Value()}, &l); err != nil {
			t.Fatalf("layout child: %v", err)
		}
		e := menuEntry{ID: l.ID, Enabled: true}
		if v, ok := l.Props["label"]; ok {
			e.Label, _ = v.Value().(string)
		}
		if v, ok := l.Props["enabled"]; ok {
			e.Enabled, _ = v.Value().(bool)
		}
		if v, ok := l.Props["toggle-state"]; ok {
			s, _ := v.Value().(int32)
			e.Toggled = s == 1
		}
		out = append(out, e)
	}
	return out
}

// click sends the panel's "clicked" event for the line labelled label.
func (it *item) click(t *testing.T, label string) {
	t.Helper()
	var menuPath dbus.ObjectPath
	it.prop(t, "Menu").Store(&menuPath)
	for _, e := range it.menu(t) {
		if e.Label == label {
			err := it.d.conn.Object(it.service, menuPath).Call("com.canonical.dbusmenu.Event", 0,
				e.ID, "clicked", dbus.MakeVariant(int32(0)), uint32(time.Now().Unix())).Err
			if err != nil {
				t.Fatalf("click %q: %v", label, err)
			}
			return
		}
	}
	t.Fatalf("no menu line %q in %+v", label, it.menu(t))
}

// waitMenu waits until the menu satisfies cond, checking again whenever
// the item sends a signal (dbusmenu's LayoutUpdated and
// ItemsPropertiesUpdated, the item's NewIcon and friends).
func (it *item) waitMenu(t *testing.T, what string, cond func([]menuEntry) bool) {
	t.Helper()
	match := []dbus.MatchOption{dbus.WithMatchSender(it.service)}
	if err := it.d.conn.AddMatchSignal(match...); err != nil {
		t.Fatal(err)
	}
	defer it.d.conn.RemoveMatchSignal(match...)
	sigs := make(chan *dbus.Signal, 64)
	it.d.conn.Signal(sigs)
	defer it.d.conn.RemoveSignal(sigs)
	timeout := time.After(20 * time.Second)
	for {
		last := it.menu(t)
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
func (d *desktop) notifications(t *testing.T) string {
	t.Helper()
	closeAll := d.user.Command("dunstctl", "close-all")
	closeAll.Env = d.env()
	closeAll.Run()
	cmd := d.user.Command("dunstctl", "history")
	cmd.Env = d.env()
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func (d *desktop) waitNotification(t *testing.T, text string) {
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
			d.capture(t, filepath.Join(testbus.RepoRoot(t), "build", "screenshots", "no-notification.png"))
			t.Fatalf("no notification %q within 20s; dunst's history: %s", text, got)
		}
		<-tick.C
	}
}

func (d *desktop) capture(t *testing.T, path string) []byte {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	shot := exec.Command("import", "-window", "root", "-crop", "640x220+0+0", path)
	shot.Env = d.env()
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
func (d *desktop) screenshot(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(testbus.RepoRoot(t), "build", "screenshots")
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name+".png")
	before := d.capture(t, path)
	click := exec.Command("xdotool", "mousemove", "12", "15", "click", "1")
	click.Env = d.env()
	if out, err := click.CombinedOutput(); err != nil {
		t.Fatalf("click the icon: %v: %s", err, out)
	}
	testnet.WaitEvery(t, 10*time.Second, 100*time.Millisecond, "the menu on screen", func() bool {
		return string(d.capture(t, path)) != string(before)
	})
	esc := exec.Command("xdotool", "key", "Escape")
	esc.Env = d.env()
	esc.Run()
	return path
}

// chooseInDialog waits for the file chooser titled title, types path into
// it as a user would and confirms.
func (d *desktop) chooseInDialog(t *testing.T, title, path string) {
	t.Helper()
	run := func(args ...string) string {
		cmd := exec.Command("xdotool", args...)
		cmd.Env = d.env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("xdotool %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	var win string
	testnet.WaitEvery(t, 30*time.Second, 100*time.Millisecond, "the file chooser "+title, func() bool {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", title)
		cmd.Env = d.env()
		out, err := cmd.Output()
		win = strings.TrimSpace(strings.Split(string(out), "\n")[0])
		return err == nil && win != ""
	})
	run("windowfocus", "--sync", win)
	// The chooser opens its location entry on the first key and completes
	// file names as they are typed; keys sent before it has settled are
	// lost or taken wrong. So open the entry, wait until the screen stops
	// changing, type, wait again, and only then confirm.
	shot := filepath.Join(testbus.RepoRoot(t), "build", "screenshots", "chooser-"+filepath.Base(path)+".png")
	settle := func(what string) {
		prev := d.capture(t, shot)
		testnet.WaitEvery(t, 10*time.Second, 200*time.Millisecond, what, func() bool {
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
			cmd.Env = d.env()
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

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds wgtray and wgtray-helper once into a directory that
// test users can execute from.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "wgtray-bin-")
		if buildErr != nil {
			return
		}
		os.Chmod(binDir, 0o755)
		for pkg, name := range map[string]string{"github.com/wgtray/wgtray/app": "wgtray", "github.com/wgtray/wgtray/helper": "wgtray-helper"} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v: %s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}
