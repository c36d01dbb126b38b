package packaging

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// TestRPMPayloadRelative: the RPM's cpio payload names its files
// relatively (./usr/bin/wgtray, as rpmbuild does; packaging/rpmrelative
// rewrites nfpm's absolute names), so that `rpm2cpio | cpio -idm`, run as
// root in an empty directory, writes only below it; the digests still
// verify. TestRPMRootInstall shows that rpm --root installs it as before.
func TestRPMPayloadRelative(t *testing.T) {
	needTool(t, "rpm2cpio", "rpm2cpio")
	needTool(t, "cpio", "cpio")
	needTool(t, "rpm", "rpm")
	_, pkg := packages(t)
	// The header's and payload's digests match the rewritten file.
	if out, err := exec.Command("rpm", "--checksig", "--nosignature", pkg).CombinedOutput(); err != nil || !strings.Contains(string(out), "digests OK") {
		t.Fatalf("rpm --checksig --nosignature: %v\n%s", err, out)
	}

	// The names first: one absolute name would make the extraction
	// below write into the real / .
	payload, err := exec.Command("rpm2cpio", pkg).Output()
	if err != nil {
		t.Fatalf("rpm2cpio: %v", err)
	}
	list := exec.Command("cpio", "-t", "--quiet")
	list.Stdin = bytes.NewReader(payload)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	names := scanLines(string(out))
	for _, n := range names {
		if !strings.HasPrefix(n, "./") {
			t.Fatalf("the payload names %q, not relative: extracting would write outside the directory", n)
		}
	}
	// The payload has exactly the files of the header's list.
	rpmList := scanLines(run(t, "rpm", "-qpl", pkg))
	var want []string
	for _, p := range rpmList {
		want = append(want, "."+p)
	}
	slices.Sort(want)
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("payload names\n%s\nwant (rpm -qpl)\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}

	dir := t.TempDir()
	extract := exec.Command("cpio", "-idm", "--quiet")
	extract.Dir = dir
	extract.Stdin = bytes.NewReader(payload)
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("cpio -idm: %v\n%s", err, out)
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, "."+strings.TrimPrefix(p, dir))
		}
		return err
	})
	var wantFiles []string
	for _, p := range rpmList {
		if fi, err := os.Lstat(filepath.Join(dir, p)); err == nil && !fi.IsDir() {
			wantFiles = append(wantFiles, "."+p)
		}
	}
	slices.Sort(got)
	if len(got) < 10 || !slices.Equal(got, wantFiles) {
		t.Errorf("extracted below %s:\n%s\nwant the package's files:\n%s", dir, strings.Join(got, "\n"), strings.Join(wantFiles, "\n"))
	}
	// The bytes are the built program's.
	a, err1 := os.ReadFile(filepath.Join(dir, "usr/bin/wgtray"))
	b, err2 := os.ReadFile(filepath.Join(repo.Root(t), "build/wgtray"))
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Errorf("extracted usr/bin/wgtray differs from build/wgtray (%v, %v)", err1, err2)
	}
}
