package plan

import (
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wgtray/wgtray/helper/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Keys used in the test configs: not secrets, generated for these tests.
const (
	privKey = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	pubKey  = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
	pubKey2 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
	psk     = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
)

// defaultFacts look like a desktop's: the kernel's default rules, a main
// and local table, a 1500-byte path.
var defaultFacts = Facts{
	UsedTables:   map[uint32]bool{254: true, 255: true},
	RulePrefs4:   []uint32{0, 32766, 32767},
	RulePrefs6:   []uint32{0, 32766},
	PathMTU:      1500,
	SrcValidMark: "0",
	Endpoints:    map[int]netip.AddrPort{0: netip.MustParseAddrPort("192.0.2.1:51820"), 1: netip.MustParseAddrPort("[2001:db8:1::1]:51820")},
	DNS: DNSFacts{Manager: DNSFile, ResolvConf: FileState{
		Path: "/etc/resolv.conf", Exists: true, Data: []byte("nameserver 192.0.2.53\n"), Mode: 0o644,
	}},
}

// TestGolden plans every testdata/*.conf with defaultFacts, adjusted by the
// optional NAME.facts.json beside it, and compares with NAME.golden.
func TestGolden(t *testing.T) {
	confs, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(confs) < 8 {
		t.Fatalf("want at least 8 golden cases, found %d (%v)", len(confs), err)
	}
	for _, path := range confs {
		name := strings.TrimSuffix(filepath.Base(path), ".conf")
		t.Run(name, func(t *testing.T) {
			got := planText(t, path)
			golden := strings.TrimSuffix(path, ".conf") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("plan differs from %s (-want +got):\n%s", golden, diff)
			}
			for _, k := range []string{privKey, psk} {
				if strings.Contains(got, k) {
					t.Errorf("plan text contains a secret key")
				}
			}
		})
	}
}

func planText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("PRIV", privKey, "PUB2", pubKey2, "PUB", pubKey, "PSK", psk).Replace(string(data))
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	// NAME.facts.json holds facts, and options beside them.
	in := struct {
		Facts
		NoLeakGuard          bool
		KillSwitch, AllowLAN bool
	}{Facts: defaultFacts}
	in.UsedTables = map[uint32]bool{254: true, 255: true}
	if b, err := os.ReadFile(strings.TrimSuffix(path, ".conf") + ".facts.json"); err == nil {
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatalf("facts: %v", err)
		}
	}
	p, err := Build("wg0", cfg, in.Facts, Options{AllowScripts: true, NoLeakGuard: in.NoLeakGuard, KillSwitch: in.KillSwitch, AllowLAN: in.AllowLAN})
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var b strings.Builder
	b.WriteString("# up\n")
	for _, op := range p.Ops {
		b.WriteString(op.String() + "\n")
	}
	b.WriteString("# down\n")
	for i := len(p.Ops) - 1; i >= 0; i-- {
		if inv, ok := p.Ops[i].Inverse(); ok {
			b.WriteString(inv.String() + "\n")
		}
	}
	return b.String()
}

func TestScriptsNeedOptIn(t *testing.T) {
	cfg, err := config.Parse([]byte("[Interface]\nPrivateKey = " + privKey + "\nPostUp = echo hi\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build("wg0", cfg, defaultFacts, Options{}); !errors.Is(err, ErrScriptsDisabled) {
		t.Errorf("Build without AllowScripts = %v, want ErrScriptsDisabled", err)
	}
	if _, err := Build("wg0", cfg, defaultFacts, Options{AllowScripts: true}); err != nil {
		t.Errorf("Build with AllowScripts: %v", err)
	}
}

func TestBadLinkName(t *testing.T) {
	cfg, err := config.Parse([]byte("[Interface]\nPrivateKey = " + privKey + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "..", "a/b", "0123456789abcdef"} {
		if _, err := Build(name, cfg, defaultFacts, Options{}); err == nil {
			t.Errorf("Build(%q) succeeded", name)
		}
	}
}

func TestNextRulePref(t *testing.T) {
	prefs := []uint32{0, 32766, 32767}
	var got []uint32
	for range 3 {
		got = append(got, nextRulePref(&prefs))
	}
	if want := []uint32{32765, 32764, 32763}; !cmp.Equal(got, want) {
		t.Errorf("prefs = %v, want %v", got, want)
	}
	empty := []uint32{}
	if p := nextRulePref(&empty); p != 0 {
		t.Errorf("pref with no rules = %d, want 0", p)
	}
}

func TestInverseRoundTripsThroughJSON(t *testing.T) {
	ops := []Op{
		{Kind: LinkAdd, Link: "wg0"},
		{Kind: RuleAdd, Link: "wg0", Rule: &Rule{Family: IPv6, Priority: 32765, Table: 51820, Mark: 51820, Invert: true, SuppressPrefixlen: -1}},
		{Kind: FWAdd, Link: "wg0", Firewall: &Firewall{Family: IPv4, Table: "wgtray-wg0", Mark: 51820}},
		{Kind: SysctlSet, Link: "wg0", Sysctl: &Sysctl{Key: "net.ipv4.conf.all.src_valid_mark", Value: "1", Old: "0"}},
		{Kind: Hooks, Link: "wg0", Hooks: &HookSet{Phase: "PostUp"}, Undo: &HookSet{Phase: "PreDown", Commands: []string{"true"}}},
		{Kind: BlockAdd, Link: "wg0", Route: &Route{Dst: netip.MustParsePrefix("::/0"), Table: 51820}},
		{Kind: DNSSet, Link: "wg0", DNS: &DNS{Manager: DNSFile, Servers: []netip.Addr{netip.MustParseAddr("2001:db8:3::1")},
			Domains: []Domain{{Name: "corp.example"}, {Name: "lab.example", RouteOnly: true}}, Default: true, Name: "tun.wg0",
			File: &FileChange{Original: FileState{Path: "/etc/resolv.conf", Exists: true, Data: []byte{0, 1, 0xff}, Mode: 0o644, UID: 1, GID: 2}, Content: []byte("x")}}},
	}
	for _, op := range ops {
		inv, ok := op.Inverse()
		if !ok {
			t.Fatalf("%v has no inverse", op)
		}
		b, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		var back Op
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(inv, back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("%v: JSON round trip changed the inverse:\n%s", op, diff)
		}
	}
}

// TestResolvConfText checks the file the helper writes when it manages
// /etc/resolv.conf itself: servers in order, search domains on one line,
// routing-only domains left out (resolv.conf cannot express them).
func TestResolvConfText(t *testing.T) {
	cfg, err := config.Parse([]byte("[Interface]\nPrivateKey = " + privKey + "\nDNS = 203.0.113.1, 2001:db8:3::1, corp.example, ~lab.example, b.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build("wg0", cfg, defaultFacts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DNS == nil || p.DNS.File == nil {
		t.Fatalf("no resolv.conf change planned: %+v", p.DNS)
	}
	want := "# Written by wgtray for tunnel wg0; the previous file comes back when it disconnects.\n" +
		"nameserver 203.0.113.1\nnameserver 2001:db8:3::1\nsearch corp.example b.example\n"
	if got := string(p.DNS.File.Content); got != want {
		t.Errorf("resolv.conf content:\n%s\nwant:\n%s", got, want)
	}
	if !p.DNS.File.Original.Same(defaultFacts.DNS.ResolvConf) {
		t.Errorf("original not kept: %v", p.DNS.File.Original)
	}
}

// TestDNSSearchOnly follows wg-quick: search domains without a server
// change nothing.
func TestDNSSearchOnly(t *testing.T) {
	cfg, err := config.Parse([]byte("[Interface]\nPrivateKey = " + privKey + "\nDNS = corp.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build("wg0", cfg, defaultFacts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range p.Ops {
		if op.Kind == DNSSet {
			t.Errorf("planned %v for a config without DNS servers", op)
		}
	}
}
