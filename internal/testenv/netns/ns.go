// Package netns builds throwaway network topologies for root-only
// integration tests: network namespaces, veth underlays and a real
// WireGuard peer, all created by the test and deleted when it ends. Nothing
// here touches the root network namespace's routes, rules, links or
// firewall.
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NamePrefix starts the name of every namespace this package creates, so
// that leftovers of a killed test run can be recognised and removed.
const NamePrefix = "wgt-"

// RequireRoot skips the test with a clear message unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	RequireRootFor(tb, "this test creates network namespaces")
}

// RequireRootFor skips the test unless it runs as root, saying why it
// needs root: what it does.
func RequireRootFor(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("skipping: %s, which needs root (run `sudo make test`)", why)
	}
}

// UniqueName returns prefix followed by random hex digits, at most 15
// bytes in all so that it is a valid interface name. Interface names must be
// unique across namespaces because /var/run/wireguard is shared by all of them.
func UniqueName(prefix string) string {
	n := (15 - len(prefix)) / 2
	if n < 3 && prefix != "" {
		panic(fmt.Sprintf("netns: prefix %q too long for a unique interface name", prefix))
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

// NewNS creates an empty network namespace with its loopback up and
// deletes it when the test ends. It returns the namespace's name as used by
// `ip netns`.
func NewNS(tb testing.TB) string {
	tb.Helper()
	RequireRoot(tb)
	// The creator's pid in the name lets CleanStale recognise leftovers.
	name := fmt.Sprintf("%s%d-%s", NamePrefix, os.Getpid(), UniqueName(""))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	tb.Cleanup(func() {
		// Processes first: a deleted namespace lives on, nameless, while a
		// process is in it. The test's own cleanups, which ran before this
		// one, should have stopped them all; whatever is left is a leak.
		for _, p := range reapNS(name) {
			tb.Logf("netns: stopped leftover %s in namespace %s", p, name)
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	IP(tb, name, "link set lo up")
	return name
}

// Run runs a command inside namespace ns and returns its combined output.
func Run(ns string, name string, args ...string) (string, error) {
	argv := append([]string{"netns", "exec", ns, name}, args...)
	out, err := exec.Command("ip", argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s %s: %w: %s", ns, name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func MustRun(tb testing.TB, ns string, name string, args ...string) string {
	tb.Helper()
	out, err := Run(ns, name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// IP runs `ip -n NS -batch -` with one ip(8) command per line, such as
// "addr add 192.0.2.2/24 dev eth0", and fails the test on the first error.
// One process per batch instead of one `ip netns exec` per command keeps
// building a topology fast; ip(8) enters the namespace itself.
func IP(tb testing.TB, ns string, lines ...string) {
	tb.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("in %s: ip -batch: %v: %s\ncommands:\n%s", ns, err, out, strings.Join(lines, "\n"))
	}
}
