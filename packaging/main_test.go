package packaging

import (
	"os"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// TestMain runs the bus harness's child program when the test binary was
// started as one (the D-Bus policy and polkit tests call the bus as
// unprivileged users through it), and the tests otherwise.
func TestMain(m *testing.M) {
	sysbus.RunChildIfAsked()
	os.Exit(m.Run())
}
