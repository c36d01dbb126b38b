package tray

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// The user's own login settings, kept in their XDG config directory
// (never the helper's): which tunnels the tray connects when it starts
// at login, and whether it starts at login at all.
const (
	// loginFile lists the tunnels to connect at login, one a line.
	loginFile = "wgtray/connect-at-login"
	// autostartFile is the user's override of the autostart entry the
	// package installs in /etc/xdg/autostart: with Hidden=true the
	// desktop does not start wgtray at login (XDG autostart spec).
	autostartFile = "autostart/wgtray.desktop"
)

// autostartHidden is what the tray writes to switch starting at login
// off.
const autostartHidden = `[Desktop Entry]
Type=Application
Name=wgtray
Exec=wgtray
Hidden=true
`

// LoginPrefs are the user's login settings.
type LoginPrefs struct {
	dir       string // the XDG config directory
	Connect   []string
	Autostart bool
}

// loadLogin reads the login settings under dir (os.UserConfigDir).
func loadLogin(dir string) LoginPrefs {
	p := LoginPrefs{dir: dir, Autostart: true}
	if f, err := os.Open(filepath.Join(dir, loginFile)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if n := strings.TrimSpace(sc.Text()); ipc.ValidName(n) == nil {
				p.Connect = append(p.Connect, n)
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile(filepath.Join(dir, autostartFile)); err == nil {
		p.Autostart = !hidden(string(data))
	}
	return p
}

// hidden reports whether a desktop entry has Hidden=true.
func hidden(entry string) bool {
	for _, l := range strings.Split(entry, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.TrimSpace(k) == "Hidden" && strings.TrimSpace(v) == "true" {
			return true
		}
	}
	return false
}

// ConnectsAtLogin reports whether name is connected at login.
func (p LoginPrefs) ConnectsAtLogin(name string) bool { return slices.Contains(p.Connect, name) }

// setConnect makes name connect at login, or not, and saves it.
func (p *LoginPrefs) setConnect(name string, on bool) error {
	next := slices.DeleteFunc(slices.Clone(p.Connect), func(n string) bool { return n == name })
	if on {
		next = append(next, name)
		slices.Sort(next)
	}
	path := filepath.Join(p.dir, loginFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save the tunnels to connect at login: %w", err)
	}
	data := ""
	for _, n := range next {
		data += n + "\n"
	}
	if err := writeReplace(path, data); err != nil {
		return fmt.Errorf("save the tunnels to connect at login: %w", err)
	}
	p.Connect = next
	return nil
}

// setAutostart switches starting at login on (the user's override is
// removed, if it is the one that hides the entry) or off (an override
// with Hidden=true).
func (p *LoginPrefs) setAutostart(on bool) error {
	path := filepath.Join(p.dir, autostartFile)
	if on {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			p.Autostart = true
			return nil
		}
		if err == nil && hidden(string(data)) {
			err = os.Remove(path)
		}
		if err != nil {
			return fmt.Errorf("start wgtray at login: %w", err)
		}
		p.Autostart = true
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("stop starting wgtray at login: %w", err)
	}
	if err := writeReplace(path, autostartHidden); err != nil {
		return fmt.Errorf("stop starting wgtray at login: %w", err)
	}
	p.Autostart = false
	return nil
}

// connectAtLogin connects, once per start of the tray, the tunnels the
// user set to connect at login that are disconnected: the tray starts at
// login (its autostart entry).
func (a *App) connectAtLogin(ctx context.Context) {
	if a.loggedIn || a.model.Login == nil {
		return
	}
	a.loggedIn = true
	for _, t := range a.model.Tunnels {
		if t.State == ipc.StateDisconnected && a.model.Login.ConnectsAtLogin(t.Name) {
			a.logger.Printf("connecting %q: set to connect at login", t.Name)
			a.toggle(ctx, t.Name, false)
		}
	}
}

// writeReplace writes path through a temporary file renamed over it, so
// that a crash leaves the old file or the new.
func writeReplace(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
