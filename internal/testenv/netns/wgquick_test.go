package netns

import (
	"os"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// TestWgQuick brings a full tunnel up and down with Debian's wg-quick and
// checks that traffic used it and that down restored the namespace.
func TestWgQuick(t *testing.T) {
	RequireRoot(t)
	tp := New(t)
	at := EchoSource(t, tp.Inet, "198.51.100.2:0")
	iface := UniqueName("wgq")
	conf := WriteConf(t, t.TempDir(), iface, tp.ClientConfig(ClientOpts{}))
	before := Dump(t, tp.Client)

	WgQuick(t, tp.Client, "up", conf)
	if src := SourceSeenBy(t, tp.Client, at.String()); src != tp.ClientTunnel4 {
		t.Errorf("through wg-quick's tunnel, the internet host sees source %s, want %s", src, tp.ClientTunnel4)
	}
	if ep := tp.PeerSeesEndpoint(t); !strings.HasPrefix(ep, "192.0.2.2:") {
		t.Errorf("the peer sees the client at %s, want 192.0.2.2:…", ep)
	}

	WgQuick(t, tp.Client, "down", conf)
	// wg-quick leaves src_valid_mark set after down, by design.
	after := strings.Replace(Dump(t, tp.Client), "src_valid_mark=1", "src_valid_mark=0", 1)
	if after != before {
		t.Errorf("wg-quick down did not restore the namespace:\n%s", DumpDiff(before, after))
	}
	if pids := wireguardGoPids(iface); len(pids) > 0 {
		t.Errorf("wireguard-go for %s still runs: %v", iface, pids)
	}
	if _, err := os.Stat(uapisock.Path(iface)); !os.IsNotExist(err) {
		t.Errorf("socket of %s still exists (%v)", iface, err)
	}
}
