// Package repo finds the repository a test runs in, so that harnesses reach
// the packaging files and the build directory from any package's test (go
// test runs each in its own directory).
package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository's root directory, found by walking up from
// the working directory to go.mod.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := find()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", dir)
		}
		dir = parent
	}
}
