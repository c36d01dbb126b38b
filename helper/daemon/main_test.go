package daemon_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: the server,
// its bus connections and the clients' Watch must all be gone when a test
// ends, or the real helper would leak them the same way.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
