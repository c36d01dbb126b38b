package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/repo"
)

// TestAutoconnectUnit: wgtray-autoconnect.service starts the helper at
// boot after the network is online, only while the helper's file lists a
// tunnel set to autoconnect boot, is installed by nfpm, enabled by the
// install scripts and forgotten by the removal ones.
func TestAutoconnectUnit(t *testing.T) {
	root := repo.Root(t)
	data, err := os.ReadFile(filepath.Join(root, "packaging/systemd/wgtray-autoconnect.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nConditionPathExists=/var/lib/wgtray/autoconnect\n",
		"\nWants=network-online.target wgtray-helper.service\n",
		"\nAfter=network-online.target\n",
		"\nBefore=wgtray-helper.service\n",
		"\nType=oneshot\n",
		"\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("wgtray-autoconnect.service lacks %q", strings.TrimSpace(want))
		}
	}
	nfpm, err := os.ReadFile(filepath.Join(root, "packaging/nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nfpm), "src: packaging/systemd/wgtray-autoconnect.service\n    dst: /usr/lib/systemd/system/wgtray-autoconnect.service\n") {
		t.Error("nfpm.yaml does not install wgtray-autoconnect.service")
	}
	for script, want := range map[string]string{
		"deb/postinst":  "deb-systemd-helper enable wgtray-autoconnect.service",
		"deb/postrm":    "deb-systemd-helper purge wgtray-autoconnect.service",
		"rpm/post.sh":   "enable wgtray-autoconnect.service",
		"rpm/preun.sh":  "disable wgtray-autoconnect.service",
		"rpm/postun.sh": "rm -f /var/lib/wgtray/wanted.json /var/lib/wgtray/autoconnect",
	} {
		b, err := os.ReadFile(filepath.Join(root, "packaging/scripts", script))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", script, want)
		}
	}
}
