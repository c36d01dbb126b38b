package tray

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/ipc"
)

// "Check connection…" runs `wgtray doctor NAME` through the helper's
// Diagnose and shows the outcome as a notification: the counts, then the
// problems and warnings, worst first. Its action "Show full report" (or a
// click on it) opens the whole text, which is kept in a file of the
// user's runtime directory, with zenity --text-info (else xdg-open).

// Texts of the check.
const (
	TextCheck    = "    Check connection…"
	TextChecking = "    Checking connection…"
	// checkTimeout bounds a check: the helper's probes take at most
	// ipc.ProbeTimeout each, a few per tunnel.
	checkTimeout = 90 * time.Second
	reportAction = "report"
)

// checkEntry is the "Check connection…" line of a connected tunnel.
func (m *Model) checkEntry(name string) Entry {
	if m.Checking[name] {
		return Entry{Kind: EntryCheck, Title: TextChecking, Tunnel: name}
	}
	return Entry{Kind: EntryCheck, Title: TextCheck, Tunnel: name, Enabled: true}
}

// setChecking records whether a check of name runs.
func (m *Model) setChecking(name string, on bool) {
	if !on {
		delete(m.Checking, name)
		return
	}
	if m.Checking == nil {
		m.Checking = map[string]bool{}
	}
	m.Checking[name] = true
}

// DoctorNotice is the notification of a check's report: the counts as
// the summary, the problems then the warnings in the body (at most
// three, then how many more), and the action opening the full report.
func DoctorNotice(name string, rep ipc.Report) Notice {
	n := map[ipc.Verdict]int{}
	for _, c := range rep.Checks {
		n[c.Verdict]++
	}
	no := Notice{Key: "doctor " + name}
	switch {
	case n[ipc.VerdictProblem] > 0:
		no.Summary = fmt.Sprintf("%s: %s, %s", name, plural(n[ipc.VerdictProblem], "problem"), plural(n[ipc.VerdictWarning], "warning"))
		no.Urgent = true
	case n[ipc.VerdictWarning] > 0:
		no.Summary = fmt.Sprintf("%s: no problem, %s", name, plural(n[ipc.VerdictWarning], "warning"))
	default:
		no.Summary = fmt.Sprintf("%s: no problem found (%d checks)", name, n[ipc.VerdictOK])
	}
	var lines []string
	shown := 0
	for _, c := range rep.Sorted() {
		if c.Verdict == ipc.VerdictOK {
			break
		}
		if shown == 3 {
			lines = append(lines, fmt.Sprintf("… and %d more in the full report", n[ipc.VerdictProblem]+n[ipc.VerdictWarning]-3))
			break
		}
		lines = append(lines, "• "+c.Summary)
		shown++
	}
	no.Body = strings.Join(lines, "\n")
	return no
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// check runs the checks of tunnel name in the background.
func (a *App) check(ctx context.Context, name string) {
	if a.helper == nil {
		a.whenDialled(ctx, func(err error) {
			if err != nil {
				a.notify(Notice{Key: "doctor " + name, Summary: "Could not check " + name, Body: err.Error(), Urgent: true})
				return
			}
			a.check(ctx, name)
		})
		return
	}
	a.model.setChecking(name, true)
	c := a.helper
	var rep ipc.Report
	a.background(ctx, checkTimeout, func(ctx context.Context) error {
		var err error
		rep, err = c.Diagnose(ctx, name, ipc.DiagnoseOptions{Active: true})
		return err
	}, func(err error) {
		a.model.setChecking(name, false)
		if err != nil {
			a.notify(Notice{Key: "doctor " + name, Summary: "Could not check " + name, Body: err.Error(), Urgent: true})
			return
		}
		no := DoctorNotice(name, rep)
		path, werr := writeReport(name, rep)
		if werr != nil {
			a.logger.Printf("keep the report of %s: %v", name, werr)
		} else {
			show := func(ctx context.Context) {
				if err := openReport(ctx, path); err != nil {
					a.logger.Printf("open the report %s: %v", path, err)
				}
			}
			// A click on the notification opens it too.
			no.Actions = []NoticeAction{{Key: reportAction, Label: "Show full report", Do: show}, {Key: "default", Label: "Show full report", Do: show}}
		}
		a.notify(no)
	})
}

// writeReport keeps the report's text, readable by the user only, for
// "Show full report".
func writeReport(name string, rep ipc.Report) (string, error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		var err error
		if dir, err = os.UserCacheDir(); err != nil {
			return "", err
		}
	}
	dir = filepath.Join(dir, "wgtray")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Checked %s at %s\n\n", name, time.Now().Format("15:04:05"))
	present.WriteReport(&b, rep)
	path := filepath.Join(dir, "doctor-"+name+".txt")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// openReport shows a report file with zenity's text view, else the
// desktop's viewer for text files. It does not wait for the window.
func openReport(ctx context.Context, path string) error {
	for _, argv := range [][]string{
		{"zenity", "--text-info", "--title=wgtray doctor", "--width=900", "--height=600", "--filename=" + path},
		{"xdg-open", path},
	} {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		if err := cmd.Start(); err != nil {
			return err
		}
		go cmd.Wait()
		return nil
	}
	return errors.New("neither zenity nor xdg-open is installed")
}
