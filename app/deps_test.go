package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoHelperDependencies keeps the unprivileged wgtray binary to the
// contract: it talks to the helper through package ipc only, so no helper
// package, and none of WireGuard's (wgctrl's key types come with
// helper/config), may be linked into it.
func TestNoHelperDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		// sudo resets PATH; Debian machines set up by hand or from
		// go.dev's archive have Go here.
		goTool = "/usr/local/go/bin/go"
	}
	const self = "github.com/wgtray/wgtray/app"
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", self).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	seen := map[string]bool{}
	for _, p := range deps {
		seen[p] = true
		for _, banned := range []string{"github.com/wgtray/wgtray/helper", "golang.zx2c4.com/wireguard"} {
			if p == banned || strings.HasPrefix(p, banned+"/") {
				t.Errorf("%s depends on %s", self, p)
			}
		}
	}
	// Guard against an empty or unexpected listing passing vacuously.
	for _, want := range []string{self, "github.com/wgtray/wgtray/ipc"} {
		if !seen[want] {
			t.Errorf("go list -deps %s does not list %s; got %d packages", self, want, len(deps))
		}
	}
}
