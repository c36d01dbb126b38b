package packaging

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/nspawn"
)

// checkSession: polkit's allow_active for org.wgtray.connect lets a user
// who is not in group wgtray connect from the active login session at
// the machine's seat (a PAM "login" session that logind registers on
// seat0, as at a console), and not from outside one. polkit counts a
// session as local only when it has a seat: a seatless session, such as
// one over SSH, gets allow_any (auth_admin).
func (b *booted) checkSession(t *testing.T) {
	if out, err := b.cli(t, deskUser, "connect", tunnel); err == nil {
		b.mustCLI(t, memberUser, "disconnect", tunnel)
		t.Fatalf("a non-member connected without a session: %s", out)
	}
	b.checkClean(t, "after a connect refused outside a session")
	// pam_systemd takes the session's type, class and seat from the
	// environment: without them a session without a terminal would be
	// of class "background" and have no seat. The container's seat0 has
	// no VTs, so a session joins it without one.
	seatless := &nspawn.RunOpts{User: deskUser, Props: []string{"PAMName=login",
		"Environment=XDG_SESSION_TYPE=tty XDG_SESSION_CLASS=user"}}
	if out, err := b.c.Run(t, seatless, "/usr/bin/wgtray", "connect", tunnel); err == nil {
		b.mustCLI(t, memberUser, "disconnect", tunnel)
		t.Fatalf("a non-member connected from a session without a seat: %s", out)
	}
	session := &nspawn.RunOpts{User: deskUser, Props: []string{"PAMName=login",
		"Environment=XDG_SESSION_TYPE=tty XDG_SESSION_CLASS=user XDG_SEAT=seat0"}}
	// The session as logind sees it, from inside it.
	info, err := b.c.Run(t, session, "/bin/sh", "-c",
		`loginctl show-session "$XDG_SESSION_ID" -p Active -p Remote -p Class -p Type -p Seat -p Name`)
	if err != nil {
		t.Fatalf("no logind session for PAMName=login: %v", err)
	}
	t.Logf("%s: the session of PAMName=login: %s", b.suite, strings.Join(scanLines(info), " "))
	for _, want := range []string{"Active=yes", "Remote=no", "Seat=seat0", "Class=user"} {
		if !strings.Contains(info, want+"\n") {
			t.Fatalf("the login session is not %s:\n%s", want, info)
		}
	}
	out, err := b.c.Run(t, session, "/usr/bin/wgtray", "connect", tunnel)
	if err != nil {
		t.Fatalf("a user at an active local session was refused: %v\n%s", err, out)
	}
	if err := b.ping(t); err != nil {
		t.Errorf("no answer through the tunnel connected from the session: %v", err)
	}
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.checkClean(t, "after the session's tunnel went down")
}

// checkKill: SIGKILL with a tunnel up. A crash (the main process
// killed, as by a segfault or the OOM killer): ExecStopPost's --cleanup
// undoes the tunnel before the restart. `systemctl kill -s KILL`, which
// signals the whole unit: systemd 257 (Debian 13) also kills the
// ExecStopPost process it forks right after, and then the restarted
// helper undoes the journal as it starts; systemd 252 lets --cleanup
// run. Either way the unit restarts, the kill switch's block holds, and
// after the user's Disconnect the network is as before.
func (b *booted) checkKill(t *testing.T) {
	t.Run("main process", func(t *testing.T) {
		b.killAndRestart(t, func(pid int) { b.c.MustRun(t, "kill", "-KILL", strconv.Itoa(pid)) }, true)
	})
	t.Run("systemctl kill", func(t *testing.T) {
		b.killAndRestart(t, func(int) { b.c.MustRun(t, "systemctl", "kill", "-s", "KILL", helperUnit) }, false)
	})
}

// killAndRestart connects, kills the helper with kill, waits for the
// restart and checks what undid the tunnel: ExecStopPost's --cleanup
// before the restart (required when byStopPost), or else the restarted
// helper as it starts.
func (b *booted) killAndRestart(t *testing.T, kill func(pid int), byStopPost bool) {
	b.mustCLI(t, memberUser, "connect", tunnel)
	_, pid := b.helper(t)
	if pid == 0 {
		t.Fatal("no helper running with the tunnel up")
	}
	cursor := b.journalCursor(t)
	kill(pid)
	var newPid int
	b.c.WaitFor(t, 30*time.Second, 100*time.Millisecond, "the unit to restart", func() bool {
		var state string
		state, newPid = b.helper(t)
		return state == "active" && newPid != 0 && newPid != pid
	})
	// The tunnel is a full one, so its kill switch is on: the crash
	// cleanup undoes the rest but keeps the block, which the restarted
	// helper adopts; the user connected the tunnel, so the restarted
	// helper brings it back up (health's wanted state); the user's
	// Disconnect then takes it all away.
	if out, err := b.c.Run(t, nil, "nft", "list", "table", "inet", "wgtray"); err != nil {
		t.Errorf("the kill switch's block did not outlive the killed helper: %v\n%s", err, out)
	}
	b.c.WaitFor(t, 30*time.Second, 200*time.Millisecond, "the restarted helper to bring the tunnel back", func() bool {
		out, err := b.cli(t, memberUser, "status", "--json", tunnel)
		return err == nil && strings.Contains(out, `"state": "connected"`)
	})
	if err := b.ping(t); err != nil {
		t.Errorf("no answer through the tunnel the restarted helper brought back: %v", err)
	}
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.checkClean(t, "after the helper was killed with a tunnel up and the user disconnected")
	j := b.c.Journal(t, "-u", helperUnit, "--after-cursor", cursor)
	if !strings.Contains(j, "Failed with result 'signal'") {
		t.Errorf("the journal does not show the kill:\n%s", j)
	}
	undo := regexp.MustCompile(`wgtray-helper\[(\d+)\]: wgtray-helper: undoing \d+ recorded change\(s\) of tunnel "` + tunnel + `" left by process ` + strconv.Itoa(pid))
	m := undo.FindStringSubmatchIndex(j)
	switch {
	case m == nil:
		t.Errorf("nothing in the journal undid the killed helper's tunnel:\n%s", j)
	case strings.Contains(j[m[1]:], "Scheduled restart job"):
		t.Logf("%s: ExecStopPost's --cleanup (pid %s) undid the tunnel before the restart", b.suite, j[m[2]:m[3]])
	case j[m[2]:m[3]] == strconv.Itoa(newPid):
		if byStopPost {
			t.Errorf("ExecStopPost's --cleanup did not undo the tunnel; the restarted helper did:\n%s", j)
		} else {
			t.Logf("%s: systemd killed ExecStopPost's --cleanup too; the restarted helper (pid %d) undid the tunnel as it started", b.suite, newPid)
		}
	default:
		t.Errorf("the tunnel was undone by process %s, neither --cleanup before the restart nor the new helper %d:\n%s", j[m[2]:m[3]], newPid, j)
	}
	// The restarted helper serves.
	if out := b.mustCLI(t, memberUser, "list"); !strings.Contains(out, tunnel) {
		t.Errorf("list after the restart: %s", out)
	}
}

// journalCursor returns the cursor of the journal's last entry, to read
// only what comes after it.
func (b *booted) journalCursor(t *testing.T) string {
	t.Helper()
	out := b.c.MustRun(t, "journalctl", "-n", "0", "--show-cursor", "--no-pager", "-q")
	_, cur, ok := strings.Cut(out, "-- cursor: ")
	if !ok {
		t.Fatalf("journalctl --show-cursor said %q", out)
	}
	return strings.TrimSpace(cur)
}

// checkUpgrade: upgrading with a tunnel up keeps it up; the old helper
// serves on, and after the tunnel goes down the next connect starts the
// new binary.
func (b *booted) checkUpgrade(t *testing.T, newVersion string) {
	b.mustCLI(t, memberUser, "connect", tunnel)
	_, oldPid := b.helper(t)
	out := b.c.MustRun(t, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "/srv/wgtray/new.deb")
	t.Logf("apt-get install of %s:\n%s", newVersion, out)
	if v := strings.TrimSpace(b.c.MustRun(t, "dpkg-query", "-W", "-f=${Version}", "wgtray")); v != newVersion {
		t.Fatalf("installed version %q, want %q", v, newVersion)
	}
	// Up, or back, within 5 s.
	if err := b.pingWithin(t, 5); err != nil {
		t.Fatalf("the tunnel is not up 5 s after the upgrade: %v", err)
	}
	if _, pid := b.helper(t); pid != oldPid {
		t.Logf("the helper was restarted by the upgrade (pid %d, was %d)", pid, oldPid)
	} else {
		exe, _ := b.c.Run(t, nil, "readlink", "/proc/"+strconv.Itoa(oldPid)+"/exe")
		t.Logf("the old helper serves on with the tunnel up: %s", strings.TrimSpace(exe))
	}
	b.mustCLI(t, memberUser, "disconnect", tunnel)
	b.checkClean(t, "after disconnect, upgraded")
	// The next connect is served by the new binary.
	b.mustCLI(t, memberUser, "connect", tunnel)
	_, pid := b.helper(t)
	if pid == oldPid {
		t.Errorf("the helper that served before the upgrade (pid %d) still serves", pid)
	}
	exe := strings.TrimSpace(b.c.MustRun(t, "readlink", "/proc/"+strconv.Itoa(pid)+"/exe"))
	if exe != installedHelper {
		t.Errorf("the helper runs %q, not the installed %s", exe, installedHelper)
	}
	// The same file as installed: not an old one kept open.
	if same := b.c.Shell(t, "[ /proc/"+strconv.Itoa(pid)+"/exe -ef "+installedHelper+" ] && echo same"); !strings.Contains(same, "same") {
		t.Errorf("the running helper is not the installed file")
	}
	if err := b.ping(t); err != nil {
		t.Errorf("no answer through the tunnel after the upgrade: %v", err)
	}
}

// checkPurge: apt-get purge with a tunnel up stops the helper, which
// takes the tunnel down; the group the package made is removed; the
// configs are kept.
func (b *booted) checkPurge(t *testing.T) {
	if state, _ := b.helper(t); state != "active" {
		b.mustCLI(t, memberUser, "connect", tunnel)
	}
	if err := b.ping(t); err != nil {
		t.Fatalf("no tunnel up before purge: %v", err)
	}
	out := b.c.MustRun(t, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "wgtray")
	t.Logf("apt-get purge:\n%s", out)
	if state, pid := b.helper(t); state == "active" || pid != 0 {
		t.Errorf("after purge the unit is %s (pid %d)", state, pid)
	}
	if procs := b.helperProcs(t); len(procs) > 0 {
		t.Errorf("helper processes after purge: %v", procs)
	}
	b.checkClean(t, "after purge with a tunnel up")
	if out, err := b.c.Run(t, nil, "getent", "group", "wgtray"); err == nil {
		t.Errorf("the group the package made is still there: %s", out)
	}
	if st := strings.TrimSpace(b.c.MustRun(t, "sh", "-c", "dpkg-query -W -f='${db:Status-Status}' wgtray 2>/dev/null || true")); st != "" && st != "not-installed" {
		t.Errorf("dpkg's status after purge: %q", st)
	}
	// The imported config stays, root's, mode 0600.
	if out := b.c.MustRun(t, "stat", "-c", "%a %U", "/etc/wireguard/"+tunnel+".conf"); strings.TrimSpace(out) != "600 root" {
		t.Errorf("the config after purge: %s", out)
	}
	for _, p := range []string{"/usr/libexec/wgtray", "/var/lib/wgtray", "/run/wgtray", "/usr/lib/systemd/system/" + helperUnit} {
		if _, err := b.c.Run(t, nil, "test", "!", "-e", p); err != nil {
			t.Errorf("%s is left after purge", p)
		}
	}
}
