package testnet

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Dump returns a normalized text dump of a namespace's networking state:
// policy rules, routes of every table, links, addresses, the nftables
// ruleset and the sysctls the engine may touch. Two dumps are equal when
// the state is; volatile details (ifindexes, lifetimes, kernel-chosen
// IPv6 link-local addresses) are left out.
func Dump(tb testing.TB, ns string) string {
	tb.Helper()
	var b strings.Builder
	section := func(name string, lines []string) {
		b.WriteString("== " + name + "\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	run := func(args ...string) []string {
		out := MustRun(tb, ns, args[0], args[1:]...)
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimRight(l, " "); l != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	section("rules -4", run("ip", "-4", "rule", "show"))
	section("rules -6", run("ip", "-6", "rule", "show"))
	section("routes -4", sorted(run("ip", "-4", "route", "show", "table", "all")))
	section("routes -6", sorted(dropLinkLocal(run("ip", "-6", "route", "show", "table", "all"))))
	section("links", sorted(normalize(run("ip", "-o", "link", "show"), linkNoise)))
	section("addrs", sorted(dropLinkLocal(normalize(run("ip", "-o", "addr", "show"), addrNoise))))
	section("nftables", normalize(run("nft", "list", "ruleset"), nftNoise))
	section("sysctl", run("sh", "-c", "for k in net/ipv4/conf/all/src_valid_mark net/ipv4/ip_forward net/ipv6/conf/all/forwarding; do echo $k=$(cat /proc/sys/$k); done"))
	return b.String()
}

var (
	// "3: eth0@if2: <…> …": the ifindex and the peer's ifindex vary.
	linkNoise = []*regexp.Regexp{
		regexp.MustCompile(`^\d+: `),
		regexp.MustCompile(`@if\d+`),
		regexp.MustCompile(`\\\s+link/\S+ [0-9a-f:]+ brd [0-9a-f:]+`), // random veth MACs
		regexp.MustCompile(` link-netns\S* \S+`),
	}
	// The kernel picks a random IPv6 link-local address for a tunnel; it
	// shows in a full tunnel's preraw rules as in wg-quick's.
	nftNoise  = []*regexp.Regexp{regexp.MustCompile(`fe80::[0-9a-f:]+`)}
	addrNoise = []*regexp.Regexp{
		regexp.MustCompile(`^\d+: `),
		regexp.MustCompile(`\\\s+valid_lft \S+ preferred_lft \S+`),
	}
)

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

func dropLinkLocal(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, "fe80::") && !strings.Contains(l, "ff00::/8") {
			out = append(out, l)
		}
	}
	return out
}

func sorted(lines []string) []string {
	s := slices.Clone(lines)
	slices.Sort(s)
	return s
}

// DumpDiff shows how dump b differs from dump a, line by line.
func DumpDiff(a, b string) string {
	return cmp.Diff(strings.Split(a, "\n"), strings.Split(b, "\n"))
}
