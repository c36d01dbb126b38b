package netns

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dumpSysctls are the sysctls that a tunnel may change (wg-quick sets
// src_valid_mark) or that change routing behaviour (forwarding).
var dumpSysctls = []string{
	"net.ipv4.conf.all.src_valid_mark",
	"net.ipv4.ip_forward",
	"net.ipv6.conf.all.forwarding",
}

// Dump returns a normalized, deterministic text dump of namespace ns's
// networking: policy rules, the routes of every table, links, addresses,
// the nftables ruleset and the sysctls in dumpSysctls. Two dumps are
// equal when the state is, so a test compares dumps taken before and
// after to prove that nothing was left behind. Volatile details are left
// out: ifindexes, veth MAC addresses, address lifetimes and the IPv6
// link-local addresses and routes, which the kernel randomizes and adds
// on its own time. Routes, links and addresses are sorted, since their
// order is creation order; rules and the ruleset are not, since their
// order is meaningful.
func Dump(tb testing.TB, ns string) string {
	tb.Helper()
	cmds := make([]string, len(dumpSections))
	for i, sec := range dumpSections {
		cmds[i] = sec.cmd
	}
	out := sections(tb, ns, cmds)
	var b strings.Builder
	for i, sec := range dumpSections {
		lines, err := sec.norm(out[i])
		if err != nil {
			tb.Fatalf("in %s: %s: %v", ns, sec.cmd, err)
		}
		b.WriteString("== " + sec.name + "\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// dumpSections are Dump's sections: a name, the shell command and how
// its output lines are normalized.
var dumpSections = []struct {
	name, cmd string
	norm      func([]string) ([]string, error)
}{
	{"rules -4", "ip -4 rule show", keep},
	{"rules -6", "ip -6 rule show", keep},
	{"routes -4", "ip -4 route show table all", func(l []string) ([]string, error) { return sorted(l), nil }},
	{"routes -6", "ip -6 route show table all", func(l []string) ([]string, error) { return sorted(dropLinkLocal(l)), nil }},
	// ip(8) names a veth peer's namespace by looking through every
	// namespace in /run/netns; one that another test deletes meanwhile
	// makes it print "Error: Peer netns reference is invalid." on stderr,
	// and the peer's name or id is left out of the dump anyway.
	{"links", "ip -o link show 2>/dev/null", func(l []string) ([]string, error) { return sorted(normalize(l, linkNoise)), nil }},
	{"addrs", "ip -o addr show", func(l []string) ([]string, error) { return sorted(dropLinkLocal(normalize(l, addrNoise))), nil }},
	{"nftables", "nft list ruleset", func(l []string) ([]string, error) { return normalize(l, nftNoise), nil }},
	{"sysctl", sysctlScript(), labelSysctls},
}

func keep(lines []string) ([]string, error) { return lines, nil }

// dumpMark separates the outputs of the commands of one Dump.
const dumpMark = "@@testnet-dump@@"

// sections runs the shell commands cmds in namespace ns and returns the
// non-empty lines of each one's output. They run in one shell, because
// each `ip netns exec` costs a new mount namespace, and dumps are taken
// often. The shell stops at the first failure.
func sections(tb testing.TB, ns string, cmds []string) [][]string {
	tb.Helper()
	script := "set -e"
	for _, c := range cmds {
		script += "; echo " + dumpMark + "; " + c
	}
	parts := strings.Split(MustRun(tb, ns, "sh", "-c", script), dumpMark+"\n")
	if len(parts) != len(cmds)+1 {
		tb.Fatalf("in %s: dump script printed %d sections, want %d", ns, len(parts)-1, len(cmds))
	}
	out := make([][]string, len(cmds))
	for i, p := range parts[1:] {
		out[i] = nonEmptyLines(p)
	}
	return out
}

// sysctlScript prints the values of dumpSysctls, one a line; /proc/sys/net
// shows the namespace's own values. One cat reads them all (the shell's
// read builtin reads byte by byte, which sysctl files do not support).
func sysctlScript() string {
	s := "cat"
	for _, k := range dumpSysctls {
		s += " /proc/sys/" + strings.ReplaceAll(k, ".", "/")
	}
	return s
}

// labelSysctls turns the values sysctlScript printed into key=value lines.
func labelSysctls(values []string) ([]string, error) {
	if len(values) != len(dumpSysctls) {
		return nil, fmt.Errorf("read sysctls %v, got %q", dumpSysctls, values)
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = dumpSysctls[i] + "=" + v
	}
	return out, nil
}

var (
	linkNoise = []*regexp.Regexp{
		regexp.MustCompile(`^\d+: `),                               // the ifindex
		regexp.MustCompile(`@if\d+`),                               // a veth peer's ifindex in another namespace
		regexp.MustCompile(`link/ether [0-9a-f:]+ brd [0-9a-f:]+`), // random veth MACs
		regexp.MustCompile(` link-netns\S* \S+`),                   // the peer namespace's name or id
		regexp.MustCompile(`\\`),                                   // ip -o's line joiner
	}
	addrNoise = []*regexp.Regexp{
		regexp.MustCompile(`^\d+: `),
		regexp.MustCompile(`@if\d+`),
		regexp.MustCompile(`valid_lft \S+ preferred_lft \S+`),
		regexp.MustCompile(`\\`),
	}
	// A full tunnel's nftables rules name the tunnel's link-local address,
	// which the kernel picks at random, in wg-quick's as in ours.
	nftNoise = []*regexp.Regexp{regexp.MustCompile(`fe80::[0-9a-f:]+`)}
)

func nonEmptyLines(s string) []string {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimRight(l, " \t"); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// normalize removes the noise from each line and collapses white space,
// which also drops the ruleset's indentation.
func normalize(lines []string, noise []*regexp.Regexp) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		for _, re := range noise {
			l = re.ReplaceAllString(l, "")
		}
		out[i] = strings.Join(strings.Fields(l), " ")
	}
	return out
}

// dropLinkLocal drops the lines about IPv6 link-local addresses and the
// per-link multicast routes, which the kernel adds by itself when a link
// comes up with IPv6.
func dropLinkLocal(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		return strings.Contains(l, "fe80::") || strings.Contains(l, "ff00::/8")
	})
}

func sorted(lines []string) []string {
	s := slices.Clone(lines)
	slices.Sort(s)
	return s
}

// DumpDiff shows how dump b differs from dump a, line by line ("-" lines
// only in a, "+" lines only in b), for a test's failure message.
func DumpDiff(a, b string) string {
	return cmp.Diff(strings.Split(a, "\n"), strings.Split(b, "\n"))
}
