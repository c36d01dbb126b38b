package testbus

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the child program instead of the tests when the test
// binary was started as a child (see child_test.go), and otherwise checks
// that the tests leak no goroutines: every connection and process watcher
// must be gone when they end.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m)
}
