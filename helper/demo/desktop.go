package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/internal/testenv/tbrun"
)

// desktop is the session of the user who ran `sudo make demo`.
type desktop struct {
	user     string
	uid, gid int
	display  string
	env      []string
}

// findDesktop returns the invoking user's desktop session, or nil when
// there is none to show the tray on (no SUDO_USER, no DISPLAY, or no
// session bus at /run/user/UID/bus).
func findDesktop() *desktop {
	name, display := os.Getenv("SUDO_USER"), os.Getenv("DISPLAY")
	if name == "" || name == "root" || display == "" {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	busPath := fmt.Sprintf("/run/user/%d/bus", uid)
	if _, err := os.Stat(busPath); err != nil {
		return nil
	}
	env := []string{"DISPLAY=" + display, "HOME=" + u.HomeDir, "USER=" + name,
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + busPath, fmt.Sprintf("XDG_RUNTIME_DIR=/run/user/%d", uid)}
	for _, k := range []string{"XAUTHORITY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return &desktop{user: name, uid: uid, gid: gid, display: display, env: env}
}

// startTray runs the tray as the user, talking to the demo's bus; it is
// stopped with the demo.
func (d *desktop) startTray(r *tbrun.Runner, bin string, bus *sysbus.Bus) {
	// The user must be able to run the binary: copy it somewhere public.
	dir := sysbus.PublicDir(r)
	exe := filepath.Join(dir, "wgtray")
	data, err := os.ReadFile(filepath.Join(bin, "wgtray"))
	if err != nil {
		r.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		r.Fatal(err)
	}
	cmd := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", d.uid), fmt.Sprintf("--regid=%d", d.gid), "--init-groups", "--", exe)
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH")}, d.env...), bus.Env())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		r.Fatalf("start the tray: %v", err)
	}
	r.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}
