package main

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/desktop"
	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// missingDesktopTool returns the first program the tray's headless
// session needs that is not installed, or ""; without it the tray is
// reported as not measured.
func missingDesktopTool() string { return desktop.Missing() }

// session is a headless desktop (Xvfb, a session bus, dunst,
// xfce4-panel) for a new member of group wgtray, as the tray's tests run
// it; it is torn down with tb.
type session struct {
	*desktop.Session
}

func startSession(tb testing.TB) *session {
	tb.Helper()
	return &session{desktop.Start(tb, sysbus.NewUser(tb, "wgtray"), desktop.Options{})}
}

// startTray runs the tray binary exe as the session's user, talking to
// the system bus whose environment entry is busEnv, and waits until its
// icon is in the panel. setpriv execs the tray in place, so the returned
// command's pid is the tray's.
func (s *session) startTray(tb testing.TB, exe, busEnv string) *exec.Cmd {
	tb.Helper()
	cmd := s.User.Command(exe)
	cmd.Env = s.Env(busEnv)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the tray: %v", err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s.FindItem(tb)
	return cmd
}

// waitMenuLabel waits until the tray's menu has a line labelled label,
// which tells that the tray has read the helper's tunnels and settled.
func (s *session) waitMenuLabel(tb testing.TB, label string) {
	tb.Helper()
	it := s.FindItem(tb)
	netns.WaitEvery(tb, 20*time.Second, 20*time.Millisecond, "the tray's menu to list "+label, func() bool {
		for _, e := range it.Menu(tb) {
			if e.Label == label {
				return true
			}
		}
		return false
	})
}
