// Package desktop runs a headless desktop session for one user —
// Xvfb, a session bus, dunst as the notification daemon and xfce4-panel
// with only its systray plugin (a real StatusNotifierWatcher and host) —
// for the tray's tests and the bench. Everything is stopped, and its
// files removed, when the test ends.
package desktop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// Tools are the programs a session needs.
var Tools = []string{"Xvfb", "xfce4-panel", "dunst", "dbus-daemon", "setpriv"}

// Missing returns the first of Tools and more that is not installed, or "".
func Missing(more ...string) string {
	for _, tool := range append(Tools, more...) {
		if _, err := exec.LookPath(tool); err != nil {
			return tool
		}
	}
	return ""
}

// Options tune Start.
type Options struct {
	// NoPortal leaves xdg-desktop-portal out: the session bus then offers
	// only xfconf for activation.
	NoPortal bool
	// NoPanel starts no panel; StartPanel starts it later.
	NoPanel bool
	// Dunstrc, if set, is dunst's configuration (a dmenu for its
	// context menu, say).
	Dunstrc string
	// NoDunst starts no notification daemon: the desktop's shell brings
	// its own (shells.go).
	NoDunst bool
	// Screen is Xvfb's screen, "800x300x24" if empty.
	Screen string
	// Env is added to every process's environment (Env, Spawn).
	Env []string
	// HideServices are D-Bus service files of /usr/share/dbus-1/services
	// that the session bus must not know of, so that what they start
	// is missing as on a desktop without the package.
	HideServices []string
}

// Session is a running desktop session.
type Session struct {
	User    sysbus.User
	Display string     // the X display, ":N"
	Dir     string     // the user's HOME and XDG_RUNTIME_DIR live here
	BusAddr string     // the session bus
	Conn    *dbus.Conn // the test's own connection to the session bus
	env     []string   // Options.Env
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

// freeDisplay picks an X display number nobody uses.
func freeDisplay() string {
	for n := 90 + os.Getpid()%100; ; n++ {
		_, err1 := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		_, err2 := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		if os.IsNotExist(err1) && os.IsNotExist(err2) {
			return fmt.Sprintf(":%d", n)
		}
	}
}

// Start starts a session for u and waits until dunst, and the panel's
// StatusNotifierWatcher unless o.NoPanel, are on its bus.
func Start(tb testing.TB, u sysbus.User, o Options) *Session {
	tb.Helper()
	// u.Dir: the session's services (xfconfd, the portal) outlive its bus
	// for a moment and write into the home meanwhile; they are ended
	// before the directory is removed.
	s := &Session{User: u, Display: freeDisplay(), Dir: u.Dir(tb), env: o.Env}
	run := filepath.Join(s.Dir, "run")
	conf := filepath.Join(s.Dir, "home/.config/xfce4/xfconf/xfce-perchannel-xml")
	must := func(err error) {
		if err != nil {
			tb.Helper()
			tb.Fatal(err)
		}
	}
	must(os.MkdirAll(conf, 0o755))
	must(os.Mkdir(run, 0o700))
	must(os.WriteFile(filepath.Join(conf, "xfce4-panel.xml"), []byte(panelConfig), 0o644))
	if o.Dunstrc != "" {
		dunst := filepath.Join(s.Dir, "home/.config/dunst")
		must(os.MkdirAll(dunst, 0o755))
		must(os.WriteFile(filepath.Join(dunst, "dunstrc"), []byte(o.Dunstrc), 0o644))
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), s.Dir+"/home", run).CombinedOutput(); err != nil {
		tb.Fatalf("chown the session's home: %v: %s", err, out)
	}
	if o.NoPortal {
		services := filepath.Join(s.Dir, "data/dbus-1/services")
		must(os.MkdirAll(services, 0o755))
		b, err := os.ReadFile("/usr/share/dbus-1/services/org.xfce.Xfconf.service")
		must(err)
		must(os.WriteFile(filepath.Join(services, "org.xfce.Xfconf.service"), b, 0o644))
	} else if len(o.HideServices) > 0 {
		services := filepath.Join(s.Dir, "data/dbus-1/services")
		must(os.MkdirAll(services, 0o755))
		all, err := os.ReadDir("/usr/share/dbus-1/services")
		must(err)
		for _, e := range all {
			if !slices.Contains(o.HideServices, e.Name()) {
				must(os.Symlink(filepath.Join("/usr/share/dbus-1/services", e.Name()), filepath.Join(services, e.Name())))
			}
		}
	}
	sock := filepath.Join(run, "bus")
	s.BusAddr = "unix:path=" + sock
	must(os.WriteFile(filepath.Join(s.Dir, "session.conf"), []byte(fmt.Sprintf(sessionConfig, sock)), 0o644))

	// A killed Xvfb leaves its socket and lock behind: remove them after
	// it (cleanups run last-registered first).
	tb.Cleanup(func() {
		os.Remove("/tmp/.X11-unix/X" + s.Display[1:])
		os.Remove("/tmp/.X" + s.Display[1:] + "-lock")
	})
	screen := o.Screen
	if screen == "" {
		screen = "800x300x24"
	}
	s.Spawn(tb, false, "Xvfb", s.Display, "-screen", "0", screen, "-nolisten", "tcp")
	netns.WaitFor(tb, 10*time.Second, "Xvfb", func() bool {
		_, err := os.Stat("/tmp/.X11-unix/X" + s.Display[1:])
		return err == nil
	})
	bus := u.Command("dbus-daemon", "--config-file="+filepath.Join(s.Dir, "session.conf"), "--nofork", "--nopidfile")
	bus.Env = s.Env()
	if o.NoPortal || len(o.HideServices) > 0 {
		// The session bus finds activatable services through
		// XDG_DATA_DIRS: offer it only xfconf's, or all but the hidden.
		bus.Env = append(bus.Env, "XDG_DATA_DIRS="+s.Dir+"/data")
	}
	if err := bus.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	netns.WaitFor(tb, 10*time.Second, "the session bus", func() bool {
		c, err := dbus.Connect(s.BusAddr)
		if err != nil {
			return false
		}
		s.Conn = c
		return true
	})
	tb.Cleanup(func() { s.Conn.Close() })
	if !o.NoDunst {
		s.Spawn(tb, true, "dunst")
		s.WaitName(tb, "org.freedesktop.Notifications", 10*time.Second)
	}
	if !o.NoPanel {
		s.StartPanel(tb)
	}
	return s
}

// StartPanel starts xfce4-panel and waits for its systray's watcher.
func (s *Session) StartPanel(tb testing.TB) *exec.Cmd {
	tb.Helper()
	cmd := s.Spawn(tb, true, "xfce4-panel")
	s.WaitName(tb, "org.kde.StatusNotifierWatcher", 20*time.Second)
	return cmd
}

// Env is the user's session environment, plus extra. The portal picks
// its GTK backend for GNOME desktops.
func (s *Session) Env(extra ...string) []string {
	env := append(os.Environ(), "DISPLAY="+s.Display, "DBUS_SESSION_BUS_ADDRESS="+s.BusAddr,
		"HOME="+s.Dir+"/home", "XDG_CONFIG_HOME="+s.Dir+"/home/.config", "XDG_RUNTIME_DIR="+s.Dir+"/run",
		"NO_AT_BRIDGE=1", "GTK_A11Y=none", "XDG_CURRENT_DESKTOP=GNOME")
	// Later duplicates win (os/exec).
	return append(append(env, s.env...), extra...)
}

// Spawn runs argv in the session, as the user when asUser, until the test
// ends.
func (s *Session) Spawn(tb testing.TB, asUser bool, argv ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if asUser {
		cmd = s.User.Command(argv...)
	}
	cmd.Env = s.Env()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", argv[0], err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// WaitName waits until name has an owner on the session bus.
func (s *Session) WaitName(tb testing.TB, name string, timeout time.Duration) {
	tb.Helper()
	sysbus.WaitOwner(tb, s.Conn, name, timeout)
}
