package packaging

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// built is what `make packages` produced, once per test binary: building
// takes seconds, and every test looks at the same two files.
var built struct {
	once     sync.Once
	deb, rpm string
	out      string
	err      error
}

// createdRe matches nfpm's report of each package it wrote; make passes
// it through, and it names the files without our guessing the version.
var createdRe = regexp.MustCompile(`(?m)^created package: (\S+)$`)

// packages runs `make packages` in the repository once and returns the
// paths of the .deb and the .rpm it wrote to dist/.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	// make packages writes build/ and dist/ in the repository, which
	// `sudo make test` owns as root.
	netns.RequireRootFor(t, "this test builds the packages into the repository's build/ and dist/, which `sudo make test` owns")
	root := repo.Root(t)
	built.once.Do(func() {
		if _, err := exec.LookPath("make"); err != nil {
			built.err = err
			return
		}
		cmd := exec.Command("make", "-C", root, "--no-print-directory", "packages")
		out, err := cmd.CombinedOutput()
		built.out, built.err = string(out), err
		for _, m := range createdRe.FindAllStringSubmatch(built.out, -1) {
			p := filepath.Join(root, m[1])
			switch {
			case strings.HasSuffix(p, ".deb"):
				built.deb = p
			case strings.HasSuffix(p, ".rpm"):
				built.rpm = p
			}
		}
	})
	if built.err != nil || built.deb == "" || built.rpm == "" {
		t.Fatalf("make packages: %v (deb %q, rpm %q):\n%s", built.err, built.deb, built.rpm, built.out)
	}
	return built.deb, built.rpm
}

// needTool fails the test when a tool is missing and the test runs as
// root, as `sudo make test` does after `make deps` installed it; without
// root it skips, so that `go test ./...` works on a developer's machine.
func needTool(t *testing.T, tool, debPkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("skipping: %s not found (Debian package %s; `sudo make test` installs it)", tool, debPkg)
		}
		t.Fatalf("%s not found: install the Debian package %s (make deps)", tool, debPkg)
	}
}

// TestLintian: no errors and no warnings; the overrides that the .deb
// ships each say why.
func TestLintian(t *testing.T) {
	needTool(t, "lintian", "lintian")
	deb, _ := packages(t)
	cmd := exec.Command("lintian", "--fail-on", "error,warning", deb)
	out, err := cmd.CombinedOutput()
	var bad []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			bad = append(bad, line)
		}
	}
	if err != nil || len(bad) > 0 {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, out)
	}
	if t.Failed() {
		return
	}
	// Every override carries a comment saying why.
	checkOverrideComments(t, filepath.Join(repo.Root(t), "packaging/lintian/wgtray"), "wgtray: ")
	checkOverrideComments(t, filepath.Join(repo.Root(t), "packaging/rpmlintrc"), "addFilter(")
}

// checkOverrideComments checks that each override line (starting with
// prefix) follows a comment.
func checkOverrideComments(t *testing.T, path, prefix string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	commented := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			commented = true
		case strings.HasPrefix(line, prefix):
			if !commented {
				t.Errorf("%s:%d: override without a comment saying why: %s", path, i+1, line)
			}
		case strings.TrimSpace(line) == "":
			commented = false
		default:
			t.Errorf("%s:%d: unexpected line %q", path, i+1, line)
		}
	}
}

// rpmlintSummary is rpmlint's last line: "N packages and M specfiles
// checked; E errors, W warnings, …".
var rpmlintSummary = regexp.MustCompile(`checked; (\d+) errors, (\d+) warnings`)

// TestRpmlint: no errors. packaging/rpmlint.sh keeps rpmlint from
// unpacking the RPM's absolute paths into / (see there).
func TestRpmlint(t *testing.T) {
	needTool(t, "rpmlint", "rpmlint")
	needTool(t, "rpm2cpio", "rpm")
	_, rpm := packages(t)
	script := filepath.Join(repo.Root(t), "packaging/rpmlint.sh")
	out, err := exec.Command(script, rpm).CombinedOutput()
	m := rpmlintSummary.FindSubmatch(out)
	if err != nil || m == nil || string(m[1]) != "0" {
		t.Errorf("rpmlint %s: %v\n%s", filepath.Base(rpm), err, out)
	}
	t.Logf("rpmlint:\n%s", out)
}

// TestManPages checks that the man pages are in the packages, gzipped
// without a name or time stamp, that man(1) renders them without
// warnings, and that they name every command and flag that the programs'
// own --help lists.
func TestManPages(t *testing.T) {
	deb, _ := packages(t)
	root := repo.Root(t)
	for _, page := range []string{"wgtray.1.gz", "wgtray-helper.8.gz"} {
		gz, err := os.ReadFile(filepath.Join(root, "build/pkg", page))
		if err != nil {
			t.Fatalf("%s not built: %v", page, err)
		}
		// gzip -n: no name (flag FNAME, 0x08) and mtime 0, bytes 4..7.
		if len(gz) < 10 || gz[3]&0x08 != 0 || !bytes.Equal(gz[4:8], []byte{0, 0, 0, 0}) {
			t.Errorf("%s: gzip header stores a name or a time stamp: % x", page, gz[:min(len(gz), 10)])
		}
		if _, err := exec.LookPath("man"); err == nil {
			cmd := exec.Command("man", "--warnings", "-l", filepath.Join(root, "build/pkg", page))
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_STDERR=1", "LC_ALL=C.UTF-8")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("man --warnings %s: %v\n%s", page, err, stderr.String())
			}
		}
	}
	if out, err := exec.Command("dpkg-deb", "-c", deb).Output(); err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	} else {
		for _, p := range []string{"./usr/share/man/man1/wgtray.1.gz", "./usr/share/man/man8/wgtray-helper.8.gz"} {
			if !strings.Contains(string(out), p+"\n") {
				t.Errorf("%s lacks %s", filepath.Base(deb), p)
			}
		}
	}

	page1 := manText(t, filepath.Join(root, "build/pkg/wgtray.1.gz"))
	page8 := manText(t, filepath.Join(root, "build/pkg/wgtray-helper.8.gz"))
	usage, _ := runHelp(t, filepath.Join(root, "build/wgtray"), "--help")
	// Commands are the first word of the indented lines under "Commands:".
	_, cmds, _ := strings.Cut(usage, "Commands:\n")
	n := 0
	for _, line := range strings.Split(cmds, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		name := strings.Fields(line)[0]
		n++
		if !regexp.MustCompile(`(?m)^\.B[IR]? ` + regexp.QuoteMeta(name) + `\b`).MatchString(page1) {
			t.Errorf("wgtray.1 does not describe command %q", name)
		}
		// Each command's own flags.
		_, sub := runHelp(t, filepath.Join(root, "build/wgtray"), name, "--help")
		for _, flag := range goFlags(sub) {
			if !strings.Contains(page1, `\-\-`+strings.ReplaceAll(flag, "-", `\-`)) {
				t.Errorf("wgtray.1 lacks --%s of %q", flag, name)
			}
		}
	}
	if n < 5 {
		t.Errorf("found only %d commands in wgtray --help:\n%s", n, usage)
	}
	_, helperUsage := runHelp(t, filepath.Join(root, "build/wgtray-helper"), "--help")
	flags := goFlags(helperUsage)
	if len(flags) < 5 {
		t.Errorf("found only %v in wgtray-helper --help:\n%s", flags, helperUsage)
	}
	for _, flag := range flags {
		if !strings.Contains(page8, `\-\-`+strings.ReplaceAll(flag, "-", `\-`)) {
			t.Errorf("wgtray-helper.8 lacks --%s", flag)
		}
	}
	// The default directories the helper prints are the ones the page names.
	for _, def := range regexp.MustCompile(`\(default "([^"]+)"\)`).FindAllStringSubmatch(helperUsage, -1) {
		if !strings.Contains(page8, strings.ReplaceAll(def[1], "-", `\-`)) {
			t.Errorf("wgtray-helper.8 lacks the default %q", def[1])
		}
	}
}

// goFlags returns the flag names that Go's flag.PrintDefaults lists in
// usage: lines "  -name ...".
func goFlags(usage string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)`).FindAllStringSubmatch(usage, -1) {
		out = append(out, m[1])
	}
	return out
}

// runHelp runs a program's help and returns its stdout and stderr; flag's
// usage goes to stderr, the top-level usage to stdout.
func runHelp(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", bin, args, err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// manText returns a gzipped man page's roff source.
func manText(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if strings.Contains(string(b), "@VERSION@") || strings.Contains(string(b), "@DATE@") {
		t.Errorf("%s: placeholders left unfilled", path)
	}
	return string(b)
}

// TestReproducible: building again from the same commit gives the same
// bytes (SOURCE_DATE_EPOCH is the commit's time).
func TestReproducible(t *testing.T) {
	deb, rpm := packages(t)
	want := map[string][]byte{}
	for _, p := range []string{deb, rpm} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = b
	}
	root := repo.Root(t)
	out, err := exec.Command("make", "-C", root, "--no-print-directory", "packages").CombinedOutput()
	if err != nil {
		t.Fatalf("make packages again: %v\n%s", err, out)
	}
	for p, b := range want {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs when built again", filepath.Base(p))
		}
	}
}

// exposureRe matches systemd-analyze security's verdict line.
var exposureRe = regexp.MustCompile(`Overall exposure level for wgtray-helper\.service: ([0-9.]+)`)

// TestUnitExposure: the unit's exposure score, which the README reports,
// stays below 3.0.
func TestUnitExposure(t *testing.T) {
	needTool(t, "systemd-analyze", "systemd")
	unit := filepath.Join(repo.Root(t), "packaging/systemd/wgtray-helper.service")
	out, _ := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", unit).CombinedOutput()
	m := exposureRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security's output:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure level: %.1f", score)
	if score >= 3.0 {
		t.Errorf("exposure level %.1f, want below 3.0:\n%s", score, out)
	}
	readme, err := os.ReadFile(filepath.Join(repo.Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "exposure level "+string(m[1])) {
		t.Errorf("README.md does not report the exposure level %s", m[1])
	}
}

// scanLines returns the non-empty lines of s.
func scanLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
