package sysbus

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the child program instead of the tests when the test
// binary was started as a child (StartChild), and otherwise checks that the
// tests leak no goroutines: every connection and process watcher must be
// gone when they end.
func TestMain(m *testing.M) {
	RunChildIfAsked()
	goleak.VerifyTestMain(m)
}
