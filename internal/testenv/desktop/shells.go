package desktop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// Shell is one of the desktops the tray is tried on, run from Debian's
// own packages under Xvfb as the session's user.
type Shell struct {
	Name           string   // for subtests and screenshots
	CurrentDesktop string   // XDG_CURRENT_DESKTOP
	Packages       []string // Debian packages it needs (Missing checks Tools)
	Tools          []string // programs that must be installed
	Env            []string // more environment for the session
	// Dunst: the shell brings no notification server, so dunst runs.
	Dunst bool
	// HideServices: D-Bus services the session must not have (a
	// desktop without that package).
	HideServices []string
	// Start starts the shell and waits until it is ready; when a host
	// is part of it (not NoHost), until its watcher is up.
	Start func(tb testing.TB, s *Session)
	// NoHost: Start brings no StatusNotifierWatcher; AddHost adds it
	// later as the user would (enable the extension, start the watcher)
	// and Advice is what the tray must tell them.
	NoHost  bool
	AddHost func(tb testing.TB, s *Session)
	Advice  string
	// MenuOnLeft: the host opens the menu on a left click (ItemIsMenu)
	// instead of calling Activate.
	MenuOnLeft bool
	// Band is how many rows at the top and bottom of the screen the
	// panel can take.
	Band int
}

// ShellPackages is every Debian package Shells need, for the Makefile's
// TEST_DEBS and to say what to install.
func ShellPackages() []string {
	var out []string
	for _, sh := range Shells() {
		out = append(out, sh.Packages...)
	}
	return out
}

// Missing returns the first tool sh needs that is not installed, or "".
func (sh Shell) Missing() string { return Missing(sh.Tools...) }

// Options are the session options sh needs.
func (sh Shell) Options(env ...string) Options {
	return Options{NoPanel: true, NoPortal: false, NoDunst: !sh.Dunst, Screen: "1024x600x24",
		Env: append(append([]string{"XDG_CURRENT_DESKTOP=" + sh.CurrentDesktop}, sh.Env...), env...), HideServices: sh.HideServices}
}

// The watcher's name.
const watcherName = "org.kde.StatusNotifierWatcher"

// Shells are the desktops of the matrix. gnome and cinnamon start without
// a tray host and get one later; plasma runs without and with a window
// manager.
func Shells() []Shell {
	gnome := Shell{Name: "gnome", CurrentDesktop: "GNOME",
		Packages: []string{"gnome-shell", "gnome-shell-extension-appindicator", "gjs"},
		Tools:    []string{"gnome-shell", "gnome-extensions", "gjs"},
		Env:      []string{"XDG_SESSION_TYPE=x11"},
		Start: func(tb testing.TB, s *Session) {
			s.Spawn(tb, true, "gnome-shell", "--x11", "--replace")
			s.WaitName(tb, "org.gnome.Shell", 60*time.Second)
			// The shell starts its notification service (gjs) itself.
			s.WaitName(tb, "org.gnome.Shell.Notifications", 30*time.Second)
			s.WaitName(tb, "org.freedesktop.Notifications", 30*time.Second)
			// It ends its start-up in the overview, where banners do not
			// show: wait for that, then leave it as a person would.
			overview := func() bool {
				v, err := s.Conn.Object("org.gnome.Shell", "/org/gnome/Shell").GetProperty("org.gnome.Shell.OverviewActive")
				return err == nil && v.Value() == true
			}
			netns.WaitEvery(tb, 30*time.Second, 200*time.Millisecond, "GNOME Shell's start-up overview", overview)
			netns.WaitEvery(tb, 30*time.Second, 500*time.Millisecond, "GNOME Shell to leave the overview", func() bool {
				if overview() {
					s.Xdotool(tb, "key", "Escape")
					return false
				}
				return true
			})
		},
		NoHost: true, Advice: "gnome-shell-extension-appindicator", MenuOnLeft: true, Band: 40,
		AddHost: func(tb testing.TB, s *Session) {
			// Debian's package is Ubuntu's fork, under Ubuntu's uuid.
			s.run(tb, "gnome-extensions", "enable", "ubuntu-appindicators@ubuntu.com")
			s.WaitName(tb, watcherName, 30*time.Second)
		},
	}
	plasma := func(name string, kwin bool) Shell {
		tools := []string{"plasmashell", "kded5"}
		if kwin {
			tools = append(tools, "kwin_x11")
		}
		return Shell{Name: name, CurrentDesktop: "KDE",
			Packages: []string{"plasma-workspace", "plasma-desktop", "kwin-x11"}, Tools: tools,
			Env: []string{"KDE_FULL_SESSION=true", "KDE_SESSION_VERSION=5", "QT_QPA_PLATFORM=xcb", "QT_QUICK_BACKEND=software"},
			// Plasma 5.27 calls Activate on a left click, ItemIsMenu or not.
			Band: 50,
			Start: func(tb testing.TB, s *Session) {
				if kwin {
					s.Spawn(tb, true, "kwin_x11", "--replace")
					s.WaitName(tb, "org.kde.KWin", 60*time.Second)
				}
				s.Spawn(tb, true, "plasmashell", "--no-respawn")
				s.WaitName(tb, "org.kde.plasmashell", 60*time.Second)
				s.WaitName(tb, "org.freedesktop.Notifications", 30*time.Second)
				// The watcher is a kded5 module that the Plasma session's
				// startup loads (kded5 started on demand loads none):
				// load it as startplasma would.
				err := s.Conn.Object("org.kde.kded5", "/kded").Call("org.kde.kded5.loadModule", 0, "statusnotifierwatcher").Err
				if err != nil {
					tb.Fatalf("load kded5's statusnotifierwatcher: %v", err)
				}
				s.WaitName(tb, watcherName, 30*time.Second)
			},
		}
	}
	lxqt := Shell{Name: "lxqt", CurrentDesktop: "LXQt", Packages: []string{"lxqt-panel"}, Tools: []string{"lxqt-panel"},
		Dunst: true, Band: 40,
		Start: func(tb testing.TB, s *Session) {
			s.writeHome(tb, ".config/lxqt/panel.conf", lxqtPanel)
			s.Spawn(tb, true, "lxqt-panel")
			s.WaitName(tb, watcherName, 30*time.Second)
		},
	}
	mate := Shell{Name: "mate", CurrentDesktop: "MATE", Packages: []string{"mate-panel"}, Tools: []string{"mate-panel"},
		Dunst: true, Band: 40,
		Start: func(tb testing.TB, s *Session) {
			s.Spawn(tb, true, "mate-panel")
			s.WaitName(tb, watcherName, 30*time.Second) // its notification-area applet's
		},
	}
	cinnamon := Shell{Name: "cinnamon", CurrentDesktop: "X-Cinnamon",
		Packages: []string{"cinnamon", "xapp-sn-watcher"}, Tools: []string{"cinnamon", "/usr/libexec/xapps/sn-watcher/xapp-sn-watcher"},
		Env: []string{"XDG_SESSION_TYPE=x11"},
		// Without xapp-sn-watcher: D-Bus would start it, and so would
		// Cinnamon when it finds the program.
		HideServices: []string{"org.x.StatusNotifierWatcher.service"},
		NoHost:       true, Advice: "xapp-sn-watcher", Band: 50,
		Start: func(tb testing.TB, s *Session) {
			s.SpawnHiding(tb, []string{"/usr/libexec/xapps/sn-watcher"}, "cinnamon", "--replace")
			s.WaitName(tb, "org.Cinnamon", 60*time.Second)
			s.WaitName(tb, "org.freedesktop.Notifications", 30*time.Second)
		},
		AddHost: func(tb testing.TB, s *Session) {
			s.Spawn(tb, true, "/usr/libexec/xapps/sn-watcher/xapp-sn-watcher")
			s.WaitName(tb, watcherName, 30*time.Second)
		},
	}
	return []Shell{gnome, plasma("plasma", false), plasma("plasma-kwin", true), lxqt, mate, cinnamon}
}

// lxqtPanel is one panel at the top with only the status notifier
// (LXQt's StatusNotifierWatcher and host).
const lxqtPanel = `[General]
__userfile__=true
panels=panel1

[panel1]
plugins=statusnotifier
position=Top
panelSize=32
iconSize=22
alignment=-1
hidable=false
lineCount=1
width=100
width-percent=true

[statusnotifier]
type=statusnotifier
`

// run runs argv as the user in the session and fails the test if it
// fails.
func (s *Session) run(tb testing.TB, argv ...string) {
	tb.Helper()
	cmd := s.User.Command(argv...)
	cmd.Env = s.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// writeHome writes a file into the user's home, as the user's.
func (s *Session) writeHome(tb testing.TB, rel, text string) {
	tb.Helper()
	path := filepath.Join(s.Dir, "home", rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	for p := path; p != filepath.Join(s.Dir, "home"); p = filepath.Dir(p) {
		os.Lchown(p, s.User.UID, s.User.GID)
	}
}

// Owner returns the command line of the process that owns name.
func (s *Session) Owner(tb testing.TB, name string) string {
	tb.Helper()
	var pid uint32
	if err := s.Conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid); err != nil {
		tb.Fatalf("owner of %s: %v", name, err)
	}
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.FormatUint(uint64(pid), 10), "cmdline"))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// SpawnHiding runs argv as the user, as Spawn does, in a mount namespace
// of its own where each of the hide directories is empty: the program
// and what it starts find no package there, as on a machine without it.
func (s *Session) SpawnHiding(tb testing.TB, hide []string, argv ...string) *exec.Cmd {
	tb.Helper()
	empty := tb.TempDir()
	script := `set -e; e=$1; shift; while [ "$1" != -- ]; do mount --bind "$e" "$1"; shift; done; shift; exec "$@"`
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", empty}, hide...)
	args = append(append(args, "--"), s.User.Command(argv...).Args...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = s.Env()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", argv[0], err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
