package ipc

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Watch
// promises that nothing outlives its context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
