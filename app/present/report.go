package present

import (
	"fmt"
	"io"
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// WriteReport prints a report: a summary line, then the checks,
// problems first, each with its fix and, unless ok, its details.
func WriteReport(w io.Writer, rep ipc.Report) {
	fmt.Fprintln(w, ReportSummary(rep))
	for _, c := range rep.Sorted() {
		tag := strings.ToUpper(string(c.Verdict))
		if c.Verdict == ipc.VerdictOK {
			tag = "ok"
		}
		who := c.Group
		if c.Tunnel != "" {
			who += " " + c.Tunnel
		}
		fmt.Fprintf(w, "%-8s [%s] %s\n", tag, who, c.Summary)
		if c.Verdict == ipc.VerdictOK {
			continue
		}
		if c.Fix != "" {
			fmt.Fprintf(w, "%-8s fix: %s\n", "", c.Fix)
		}
		for _, d := range c.Details {
			fmt.Fprintf(w, "%-8s - %s\n", "", d)
		}
	}
}

// ReportSummary is one line: what was checked and how many problems and
// warnings were found.
func ReportSummary(rep ipc.Report) string {
	n := map[ipc.Verdict]int{}
	for _, c := range rep.Checks {
		n[c.Verdict]++
	}
	what := "this machine (no tunnel connected)"
	if len(rep.Tunnels) > 0 {
		what = strings.Join(rep.Tunnels, ", ") + " and this machine"
	}
	return fmt.Sprintf("wgtray doctor: %s: %d problem(s), %d warning(s), %d ok", what, n[ipc.VerdictProblem], n[ipc.VerdictWarning], n[ipc.VerdictOK])
}
