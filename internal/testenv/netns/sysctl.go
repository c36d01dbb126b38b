package netns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SetSysctl sets sysctl key, such as "net.ipv4.ip_forward", to value in
// namespace ns. Files under /proc/sys/net belong to the network namespace
// of the thread that opens them, so a thread moved into ns writes the
// namespace's own copy, and the root namespace's is never touched.
func SetSysctl(tb testing.TB, ns, key, value string) {
	tb.Helper()
	path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	if err := inNS(ns, func() error { return os.WriteFile(path, []byte(value+"\n"), 0o644) }); err != nil {
		tb.Fatalf("in %s: sysctl %s=%s: %v", ns, key, value, err)
	}
}
