package sysbus

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// dirPrefix starts the names of the directories PublicDir makes in the
// temporary directory, followed by the creating process's pid.
const dirPrefix = "wgtray-test-"

// PublicDir makes a directory that unprivileged test users and polkitd can
// enter (t.TempDir's are root-only), removed when the test ends.
func PublicDir(tb testing.TB) string {
	tb.Helper()
	staleOnce.Do(removeStale)
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		tb.Fatal(err)
	}
	// MkdirTemp creates 0700 whatever the umask.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := removeAll(dir); err != nil {
			tb.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// removeAll is os.RemoveAll tried again for a while: a process that was
// just killed (a user's, see User.Dir) may have been creating a file in
// the tree while the first attempt ran.
func removeAll(dir string) error {
	deadline := time.Now().Add(endTimeout)
	backoff := 10 * time.Millisecond
	for {
		err := os.RemoveAll(dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		// Nothing to wait on: what still writes is another process.
		<-time.After(backoff)
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// copyFile copies src to dst, readable by everyone.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
