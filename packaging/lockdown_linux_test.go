package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// TestLockdownUnit: wgtray-lockdown.service loads lockdown's block before
// the network (DefaultDependencies=no, Before=network-pre.target), runs
// only while the helper's marker says lockdown is on, runs the helper's
// --load-lockdown, is installed by nfpm and enabled by the install
// scripts, and its exposure stays below 3.0.
func TestLockdownUnit(t *testing.T) {
	root := repo.Root(t)
	unit := filepath.Join(root, "packaging/systemd/wgtray-lockdown.service")
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"\nDefaultDependencies=no\n",
		"\nBefore=network-pre.target",
		"\nWants=network-pre.target\n",
		"\nConditionPathExists=/var/lib/wgtray/lockdown-on\n",
		"\nType=oneshot\n",
		"\nExecStart=/usr/libexec/wgtray/wgtray-helper --load-lockdown\n",
		"\nWantedBy=sysinit.target\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("wgtray-lockdown.service lacks %q", strings.TrimSpace(want))
		}
	}
	nfpm, err := os.ReadFile(filepath.Join(root, "packaging/nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nfpm), "src: packaging/systemd/wgtray-lockdown.service\n    dst: /usr/lib/systemd/system/wgtray-lockdown.service\n") {
		t.Error("nfpm.yaml does not install wgtray-lockdown.service")
	}
	for script, want := range map[string]string{
		"deb/postinst":  "deb-systemd-helper enable wgtray-lockdown.service",
		"deb/prerm":     `"$helper" --remove-block`,
		"rpm/post.sh":   "enable wgtray-lockdown.service",
		"rpm/preun.sh":  `"$helper" --remove-block`,
		"deb/postrm":    "deb-systemd-helper purge wgtray-lockdown.service",
		"rpm/postun.sh": "rm -f /var/lib/wgtray/options /var/lib/wgtray/lockdown-on",
	} {
		b, err := os.ReadFile(filepath.Join(root, "packaging/scripts", script))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", script, want)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("skipping the exposure check: systemd-analyze is not installed (apt-get install systemd)")
	}
	out, _ := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for wgtray-lockdown\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure level: %.1f", score)
	if score >= 3.0 {
		t.Errorf("exposure level %.1f, want below 3.0:\n%s", score, out)
	}
}
