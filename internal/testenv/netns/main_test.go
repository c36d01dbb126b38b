package netns

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind, such as an
// EchoSource server or a process reader that a cleanup did not stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
