package tray_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/internal/testenv/desktop"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// world is everything a tray test needs: a private system bus with
// polkitd, the helper in a client namespace with a real WireGuard peer,
// and one stored tunnel.
type world struct {
	bus       *sysbus.Bus
	tp        *netns.Topology
	bin       string
	configDir string
	stateDir  string
	libDir    string // --lib-dir: never the machine's /var/lib/wgtray
	helper    *netns.Proc
	tunnel    string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := newWorldWith(t, sysbus.Options{})
	w.startHelper(t)
	return w
}

// newWorldWith is newWorld with bus options and no helper started.
func newWorldWith(t *testing.T, o sysbus.Options) *world {
	t.Helper()
	requireDesktopTools(t)
	w := &world{bin: sysbus.Binaries(t), bus: sysbus.Start(t, o), tp: netns.New(t)}
	w.configDir = filepath.Join(t.TempDir(), "wireguard")
	os.Mkdir(w.configDir, 0o700)
	w.stateDir = t.TempDir()
	w.libDir = t.TempDir()
	w.tunnel = netns.UniqueName("wgt")
	netns.WriteConf(t, w.configDir, w.tunnel, w.tp.ClientConfig(netns.ClientOpts{}))
	return w
}

// helperArgv is how the tests run the helper.
func (w *world) helperArgv() []string {
	return []string{filepath.Join(w.bin, "wgtray-helper"),
		"--config-dir", w.configDir, "--journal-dir", w.stateDir, "--lib-dir", w.libDir, "--wireguard=userspace"}
}

func (w *world) startHelper(t *testing.T) {
	t.Helper()
	w.helper = w.bus.StartHelper(t, w.tp.Client, nil, w.helperArgv()...)
}

func (w *world) client(t *testing.T) *ipc.Client { return ipc.NewClient(w.bus.Conn(t)) }

func (w *world) state(t *testing.T) ipc.State {
	t.Helper()
	st, err := w.client(t).Status(context.Background(), w.tunnel)
	if err != nil {
		t.Fatal(err)
	}
	return st.State
}

// startTray runs the tray as the desktop's user, with env added to its
// environment.
func (w *world) startTray(t *testing.T, d *testDesktop, env ...string) *trayProc {
	t.Helper()
	return startTrayOn(t, w.bin, w.bus, d, env...)
}

// trayProc is a running tray, whose stderr is kept as well as copied to
// the test's.
type trayProc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	log strings.Builder
}

func (p *trayProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.Write(b)
	return os.Stderr.Write(b)
}

// said returns what the tray wrote to stderr so far.
func (p *trayProc) said() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func startTrayOn(t *testing.T, bin string, bus *sysbus.Bus, d *testDesktop, env ...string) *trayProc {
	t.Helper()
	p := &trayProc{cmd: d.User.Command(filepath.Join(bin, "wgtray"))}
	p.cmd.Env = d.Env(append([]string{bus.Env()}, env...)...)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

func toggled(name string, on bool) func([]desktop.MenuEntry) bool {
	return func(es []desktop.MenuEntry) bool {
		for _, e := range es {
			if e.Label == name {
				return e.Toggled == on && e.Enabled
			}
		}
		return false
	}
}

func hasLine(text string) func([]desktop.MenuEntry) bool {
	return func(es []desktop.MenuEntry) bool {
		for _, e := range es {
			if strings.Contains(e.Label, text) {
				return true
			}
		}
		return false
	}
}

func lacksLine(text string) func([]desktop.MenuEntry) bool {
	has := hasLine(text)
	return func(es []desktop.MenuEntry) bool { return !has(es) }
}

// all is every one of conds at once.
func all(conds ...func([]desktop.MenuEntry) bool) func([]desktop.MenuEntry) bool {
	return func(es []desktop.MenuEntry) bool {
		for _, c := range conds {
			if !c(es) {
				return false
			}
		}
		return true
	}
}

// entry returns the menu line labelled label.
func entry(t *testing.T, es []desktop.MenuEntry, label string) desktop.MenuEntry {
	t.Helper()
	for _, e := range es {
		if e.Label == label {
			return e
		}
	}
	t.Fatalf("no menu line %q in %+v", label, es)
	return desktop.MenuEntry{}
}

// TestTrayInPanel drives the tray as xfce4-panel does: a member of group
// wgtray clicks the tunnel in the menu; the tunnel comes up and the icon,
// tooltip, menu and notifications say so; the command line disconnects it
// and the tray follows; the helper dies and comes back, and the tray
// recovers by itself.
func TestTrayInPanel(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
	idleIcon := it.iconPixels(t)
	if tip := it.tooltip(t); tip != "wgtray: disconnected" {
		t.Errorf("tooltip %q", tip)
	}
	if v := it.Prop(t, "ItemIsMenu"); v.Value() != true {
		t.Error("ItemIsMenu is not set: a left click would not open the menu")
	}
	shotOff := d.screenshot(t, "tray-disconnected")

	port := w.tp.InetAddr4.String() + ":7003"
	netns.EchoSource(t, w.tp.Inet, port)
	it.click(t, w.tunnel)
	it.waitMenu(t, "the tunnel checked", toggled(w.tunnel, true))
	if st := w.state(t); st != ipc.StateConnected {
		t.Fatalf("helper says %s after the click", st)
	}
	if src := netns.SourceSeenBy(t, w.tp.Client, port); src != w.tp.ClientTunnel4 {
		t.Errorf("traffic left as %v, want the tunnel's %v", src, w.tp.ClientTunnel4)
	}
	it.waitMenu(t, "the endpoint line", hasLine("endpoint 192.0.2.1:51820"))
	it.waitMenu(t, "the handshake line", hasLine("handshake "))
	if it.iconPixels(t) == idleIcon {
		t.Error("the icon did not change on connect")
	}
	if tip := it.tooltip(t); !strings.Contains(tip, w.tunnel+" connected") {
		t.Errorf("tooltip %q does not name the connected tunnel", tip)
	}
	d.waitNotification(t, "Connected to "+w.tunnel)
	shotOn := d.screenshot(t, "tray-connected")

	// Changes made elsewhere: the command line disconnects.
	cli := exec.Command(filepath.Join(w.bin, "wgtray"), "disconnect", w.tunnel)
	cli.Env = append(os.Environ(), w.bus.Env())
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("wgtray disconnect: %v: %s", err, out)
	}
	it.waitMenu(t, "the tunnel unchecked", toggled(w.tunnel, false))
	d.waitNotification(t, "Disconnected from "+w.tunnel)
	if it.iconPixels(t) != idleIcon {
		t.Error("the icon did not go back to disconnected")
	}

	// The helper dies: problem state; it comes back: recovered.
	w.helper.Signal(syscall.SIGKILL)
	w.helper.Wait(t, 20*time.Second)
	it.waitMenu(t, "the helper-missing line", hasLine(tray.TextHelperMissing))
	d.waitNotification(t, "wgtray-helper is unavailable")
	if tip := it.tooltip(t); !strings.Contains(tip, "not running") {
		t.Errorf("tooltip %q", tip)
	}
	w.startHelper(t)
	it.waitMenu(t, "the tunnel again", all(toggled(w.tunnel, false), lacksLine(tray.TextHelperMissing)))
	d.waitNotification(t, "wgtray-helper is back")
	if it.iconPixels(t) != idleIcon {
		t.Error("the icon did not recover")
	}
	t.Logf("screenshots: %s %s", shotOff, shotOn)
}

// TestTrayNotAllowed: a user outside group wgtray sees the not-allowed
// line once the helper refuses them, and nothing changes. The refusal
// marks connecting only, not importing, and locks nothing: the next click
// asks the helper again.
func TestTrayNotAllowed(t *testing.T) {
	w := newWorld(t)
	d := startDesktop(t, sysbus.NewUser(t))
	w.startTray(t, d)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
	before := netns.Dump(t, w.tp.Client)
	it.click(t, w.tunnel)
	it.waitMenu(t, "the not-allowed line", all(hasLine(tray.TextNotAllowedConnect), toggled(w.tunnel, false)))
	menu := it.Menu(t)
	if e := entry(t, menu, tray.TextImport); !e.Enabled || hasLine(tray.TextNotAllowedImport)(menu) {
		t.Errorf("a refused connect disabled or refused import too: %+v", menu)
	}
	if st := w.state(t); st != ipc.StateDisconnected {
		t.Errorf("helper state %s after a refused click", st)
	}
	if after := netns.Dump(t, w.tp.Client); after != before {
		t.Errorf("a refused click changed the namespace:\n%s", netns.DumpDiff(before, after))
	}
	d.waitNotification(t, "Not allowed to connect tunnels")
	d.screenshot(t, "tray-not-allowed")

	// Trying again reaches the helper, which refuses again.
	denials := func() int { return strings.Count(w.helper.Stderr(), "denied org.wgtray.connect") }
	if n := denials(); n != 1 {
		t.Fatalf("the helper logged %d refusals for one click:\n%s", n, w.helper.Stderr())
	}
	it.click(t, w.tunnel)
	netns.WaitFor(t, 20*time.Second, "the second click to reach the helper", func() bool { return denials() == 2 })
	it.waitMenu(t, "the not-allowed line again", all(hasLine(tray.TextNotAllowedConnect), toggled(w.tunnel, false)))
}

// TestTrayOneInstanceNotRoot: a second tray in the session exits 0 with a
// message, and root is refused.
func TestTrayOneInstanceNotRoot(t *testing.T) {
	requireDesktopTools(t)
	bin := sysbus.Binaries(t)
	d := startDesktop(t, sysbus.NewUser(t, "wgtray"))
	first := d.User.Command(filepath.Join(bin, "wgtray"))
	first.Env = d.Env()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	d.WaitName(t, tray.BusName, 20*time.Second)
	second := d.User.Command(filepath.Join(bin, "wgtray"))
	second.Env = d.Env()
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second tray: %v, %q; want exit 0 saying it already runs", err, out)
	}
	root := exec.Command(filepath.Join(bin, "wgtray"))
	root.Env = d.Env()
	out, err = root.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "must not run as root") {
		t.Errorf("tray as root: %v, %q; want a refusal", err, out)
	}
}

// TestTrayImport imports a config through the menu: with the desktop's
// file chooser through xdg-desktop-portal (GTK backend), and with zenity
// when no portal answers. A bad config is refused with its line number.
func TestTrayImport(t *testing.T) {
	for _, c := range []struct {
		name     string
		noPortal bool
	}{{"portal", false}, {"fallback", true}} {
		t.Run(c.name, func(t *testing.T) {
			if c.noPortal {
				if _, err := exec.LookPath("zenity"); err != nil {
					t.Skip("skipping: zenity not installed (sudo make test installs it)")
				}
			} else if _, err := os.Stat("/usr/libexec/xdg-desktop-portal-gtk"); err != nil {
				t.Skip("skipping: xdg-desktop-portal-gtk not installed (sudo make test installs it)")
			}
			w := newWorld(t)
			d := startDesktopWith(t, sysbus.NewUser(t, "wgtray"), desktop.Options{NoPortal: c.noPortal})
			w.startTray(t, d)
			it := d.findItem(t)
			it.waitMenu(t, "the stored tunnel", toggled(w.tunnel, false))
			files := sysbus.PublicDir(t)
			good := netns.WriteConf(t, files, "office", w.tp.ClientConfig(netns.ClientOpts{AllowedIPs: "198.51.100.0/24"}))
			bad := netns.WriteConf(t, files, "broken", "[Interface]\nPrivateKey = nope\n")
			os.Chmod(good, 0o644) // the user reads it, never the helper
			os.Chmod(bad, 0o644)

			it.click(t, tray.TextImport)
			d.chooseInDialog(t, "Import WireGuard tunnel", good)
			it.waitMenu(t, "the imported tunnel", toggled("office", false))
			d.waitNotification(t, "Imported tunnel office")
			fi, err := os.Stat(filepath.Join(w.configDir, "office.conf"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("stored config: %v, %v", fi, err)
			}

			it.click(t, tray.TextImport)
			d.chooseInDialog(t, "Import WireGuard tunnel", bad)
			d.waitNotification(t, "line 2")
			if _, err := os.Stat(filepath.Join(w.configDir, "broken.conf")); !os.IsNotExist(err) {
				t.Errorf("a bad config was stored: %v", err)
			}
		})
	}
}

// TestTrayWaitsForATrayHost: with no StatusNotifierWatcher (stock GNOME),
// the tray says what to install and registers once a host appears.
func TestTrayWaitsForATrayHost(t *testing.T) {
	w := newWorld(t)
	d := startDesktopWith(t, sysbus.NewUser(t, "wgtray"), desktop.Options{NoPanel: true})
	cmd := d.User.Command(filepath.Join(w.bin, "wgtray"))
	cmd.Env = d.Env(w.bus.Env())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(20 * time.Second)
	var said []string
	for found := false; !found; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the tray exited; it said %q", said)
			}
			said = append(said, l)
			found = strings.Contains(l, "gnome-shell-extension-appindicator")
		case <-timeout:
			t.Fatalf("no advice about a missing tray host; the tray said %q", said)
		}
	}
	d.StartPanel(t)
	it := d.findItem(t)
	it.waitMenu(t, "the tunnel", toggled(w.tunnel, false))
}
