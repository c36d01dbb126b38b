package sysbus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The programs Binaries builds: file name → package.
var programs = map[string]string{
	"wgtray":        "github.com/wgtray/wgtray/app",
	"wgtray-helper": "github.com/wgtray/wgtray/helper",
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds wgtray and wgtray-helper once per test process into a
// directory that unprivileged test users can execute from, and returns it.
// The directory is named like PublicDir's, so that the first harness of a
// later test process removes it once this process is gone.
func Binaries(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() { binDir, buildErr = build() })
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binDir
}

// goTool returns the go command's path.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	// sudo resets PATH; Debian machines set up by hand or from go.dev's
	// archive have Go here.
	return "/usr/local/go/bin/go"
}

// BuildHelper builds wgtray-helper as file, with its Version set to
// version as the Makefile sets it, for a test of two builds (an upgrade).
func BuildHelper(tb testing.TB, file, version string) {
	tb.Helper()
	cmd := exec.Command(goTool(), "build", "-ldflags=-X main.Version="+version, "-o", file, programs["wgtray-helper"])
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build wgtray-helper %s: %v: %s", version, err, out)
	}
}

func build() (string, error) {
	staleOnce.Do(removeStale)
	goTool := goTool()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-bin-", dirPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	for name, pkg := range programs {
		if out, err := exec.Command(goTool, "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %v: %s", name, err, out)
		}
	}
	return dir, nil
}
