package netns

import (
	"strings"
	"testing"
)

// DumpWith is Dump of a network namespace that `ip netns exec` cannot
// enter from here, such as a container's: run runs a shell script there
// (with that system's own ip and nft) and returns its output. where
// names the place in failure messages.
func DumpWith(tb testing.TB, where string, run func(script string) (string, error)) string {
	tb.Helper()
	script := "set -e"
	for _, sec := range dumpSections {
		script += "; echo " + dumpMark + "; " + sec.cmd
	}
	out, err := run(script)
	if err != nil {
		tb.Fatalf("in %s: dump: %v", where, err)
	}
	parts := strings.Split(out, dumpMark+"\n")
	if len(parts) != len(dumpSections)+1 {
		tb.Fatalf("in %s: dump script printed %d sections, want %d:\n%s", where, len(parts)-1, len(dumpSections), out)
	}
	var b strings.Builder
	for i, sec := range dumpSections {
		lines, err := sec.norm(nonEmptyLines(parts[i+1]))
		if err != nil {
			tb.Fatalf("in %s: %s: %v", where, sec.cmd, err)
		}
		b.WriteString("== " + sec.name + "\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
