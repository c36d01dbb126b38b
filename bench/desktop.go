package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/testbus"
	"github.com/wgtray/wgtray/helper/testnet"
)

// desktopTools are what the tray's headless session needs; without any
// of them the tray is reported as not measured.
var desktopTools = []string{"Xvfb", "xfce4-panel", "dunst", "dbus-daemon", "setpriv"}

// missingDesktopTool returns the first of desktopTools not installed, or "".
func missingDesktopTool() string {
	for _, tool := range desktopTools {
		if _, err := exec.LookPath(tool); err != nil {
			return tool
		}
	}
	return ""
}

// panelConfig is an xfce4-panel with only its systray plugin: a real
// StatusNotifierWatcher and host for the tray to register with.
const panelConfig = `<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
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

// sessionConfig is a session bus that root (the bench) and the desktop's
// user may share.
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

// session is a headless desktop for one throwaway user: Xvfb, a session
// bus, dunst and xfce4-panel, as the tray's tests run them.
type session struct {
	user    testbus.User
	display string
	dir     string // HOME and XDG_RUNTIME_DIR live here
	busAddr string
	conn    *dbus.Conn // the bench's own connection to the session bus
}

// freeDisplay picks an X display number nobody uses.
func freeDisplay() string {
	for n := 150 + os.Getpid()%50; ; n++ {
		_, err1 := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		_, err2 := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		if os.IsNotExist(err1) && os.IsNotExist(err2) {
			return fmt.Sprintf(":%d", n)
		}
	}
}

// startSession starts the desktop for a new member of group wgtray; it
// is torn down with tb.
func startSession(tb testing.TB) *session {
	tb.Helper()
	s := &session{user: testbus.NewUser(tb, "wgtray"), display: freeDisplay(), dir: testbus.PublicDir(tb)}
	run := filepath.Join(s.dir, "run")
	conf := filepath.Join(s.dir, "home/.config/xfce4/xfconf/xfce-perchannel-xml")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(run, 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "xfce4-panel.xml"), []byte(panelConfig), 0o644); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.user.UID, s.user.GID), s.dir+"/home", run).CombinedOutput(); err != nil {
		tb.Fatalf("chown the session's home: %v: %s", err, out)
	}
	sock := filepath.Join(run, "bus")
	s.busAddr = "unix:path=" + sock
	if err := os.WriteFile(filepath.Join(s.dir, "session.conf"), []byte(fmt.Sprintf(sessionConfig, sock)), 0o644); err != nil {
		tb.Fatal(err)
	}
	// A killed Xvfb leaves its socket and lock behind: remove them after
	// it (cleanups run last-registered first).
	tb.Cleanup(func() {
		os.Remove("/tmp/.X11-unix/X" + s.display[1:])
		os.Remove("/tmp/.X" + s.display[1:] + "-lock")
	})
	s.start(tb, false, "Xvfb", s.display, "-screen", "0", "800x300x24", "-nolisten", "tcp")
	testnet.WaitFor(tb, 10*time.Second, "Xvfb", func() bool {
		_, err := os.Stat("/tmp/.X11-unix/X" + s.display[1:])
		return err == nil
	})
	s.start(tb, true, "dbus-daemon", "--config-file="+filepath.Join(s.dir, "session.conf"), "--nofork", "--nopidfile")
	testnet.WaitFor(tb, 10*time.Second, "the session bus", func() bool {
		c, err := dbus.Connect(s.busAddr)
		if err != nil {
			return false
		}
		s.conn = c
		return true
	})
	tb.Cleanup(func() { s.conn.Close() })
	s.start(tb, true, "dunst")
	s.waitName(tb, "org.freedesktop.Notifications", 10*time.Second)
	s.start(tb, true, "xfce4-panel")
	s.waitName(tb, "org.kde.StatusNotifierWatcher", 20*time.Second)
	return s
}

// env is the user's session environment, plus extra.
func (s *session) env(extra ...string) []string {
	env := append(os.Environ(), "DISPLAY="+s.display, "DBUS_SESSION_BUS_ADDRESS="+s.busAddr,
		"HOME="+s.dir+"/home", "XDG_CONFIG_HOME="+s.dir+"/home/.config", "XDG_RUNTIME_DIR="+s.dir+"/run",
		"NO_AT_BRIDGE=1", "GTK_A11Y=none", "XDG_CURRENT_DESKTOP=GNOME")
	return append(env, extra...)
}

// start runs argv in the session, as the user when asUser, until tb ends.
func (s *session) start(tb testing.TB, asUser bool, argv ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if asUser {
		cmd = s.user.Command(argv...)
	}
	cmd.Env = s.env()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", argv[0], err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func (s *session) waitName(tb testing.TB, name string, timeout time.Duration) {
	tb.Helper()
	testnet.WaitFor(tb, timeout, name+" on the session bus", func() bool {
		var has bool
		s.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		return has
	})
}

// startTray runs the tray binary exe as the session's user, talking to
// the system bus whose environment entry is busEnv, and waits until its
// icon is in the panel. setpriv execs the tray in place, so the returned
// command's pid is the tray's.
func (s *session) startTray(tb testing.TB, exe, busEnv string) *exec.Cmd {
	tb.Helper()
	cmd := s.user.Command(exe)
	cmd.Env = s.env(busEnv)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the tray: %v", err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testnet.WaitFor(tb, 20*time.Second, "the tray's icon in the panel", func() bool {
		v, err := s.conn.Object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher").
			GetProperty("org.kde.StatusNotifierWatcher.RegisteredStatusNotifierItems")
		if err != nil {
			return false
		}
		items, _ := v.Value().([]string)
		return len(items) > 0
	})
	return cmd
}

// waitMenuLabel waits until the tray's menu has a line labelled label,
// which tells that the tray has read the helper's tunnels and settled.
func (s *session) waitMenuLabel(tb testing.TB, label string) {
	tb.Helper()
	testnet.WaitEvery(tb, 20*time.Second, 20*time.Millisecond, "the tray's menu to list "+label, func() bool {
		v, err := s.conn.Object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher").
			GetProperty("org.kde.StatusNotifierWatcher.RegisteredStatusNotifierItems")
		if err != nil {
			return false
		}
		items, _ := v.Value().([]string)
		if len(items) == 0 {
			return false
		}
		service, path, _ := strings.Cut(items[0], "/")
		mv, err := s.conn.Object(service, dbus.ObjectPath("/"+path)).GetProperty("org.kde.StatusNotifierItem.Menu")
		if err != nil {
			return false
		}
		menuPath, _ := mv.Value().(dbus.ObjectPath)
		var rev uint32
		var root menuLayout
		if err := s.conn.Object(service, menuPath).Call("com.canonical.dbusmenu.GetLayout", 0,
			int32(0), int32(-1), []string{"label"}).Store(&rev, &root); err != nil {
			return false
		}
		for _, c := range root.Children {
			var l menuLayout
			if dbus.Store([]any{c.Value()}, &l) != nil {
				continue
			}
			if v, ok := l.Props["label"]; ok && v.Value() == label {
				return true
			}
		}
		return false
	})
}

// menuLayout is one node of a dbusmenu layout.
type menuLayout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}
