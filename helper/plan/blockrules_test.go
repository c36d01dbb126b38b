package plan

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wgtray/wgtray/helper/config"
)

// TestBlockRulesGolden renders the block's rules for each case and
// compares them with testdata/block-NAME.golden.
func TestBlockRulesGolden(t *testing.T) {
	lan := BlockFacts{LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24"), netip.MustParsePrefix("2001:db8:a::2/64"), netip.MustParsePrefix("fe80::1/64")}}
	tunnel := Block{Link: "wg0", Mark: 51820, AllowLAN: true,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("198.51.100.1:51820"), netip.MustParseAddrPort("[2001:db8:1::1]:51820")},
		DNS:       []netip.Addr{netip.MustParseAddr("203.0.113.1")},
		Sources:   []netip.Addr{netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("2001:db8:3::2")}}
	noLAN := tunnel
	noLAN.AllowLAN = false
	noLAN.DNS = nil
	cases := map[string]Blocking{
		"tunnel":          {Tunnels: []Block{tunnel}},
		"tunnel-no-lan":   {Tunnels: []Block{noLAN}},
		"lockdown":        {Lockdown: &Block{AllowLAN: true}},
		"lockdown-tunnel": {Tunnels: []Block{tunnel}, Lockdown: &Block{AllowLAN: false}},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var sb strings.Builder
			for _, r := range BlockRules(b, lan) {
				sb.WriteString(r.Chain + ": " + r.String() + "\n")
			}
			got := sb.String()
			golden := "testdata/block-" + name + ".golden"
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
				t.Errorf("rules differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestBlockRulesEndsInReject: whatever holds the block, each chain's last
// rule refuses, and no rule before it accepts everything.
func TestBlockRulesEndsInReject(t *testing.T) {
	for _, b := range []Blocking{{Lockdown: &Block{}}, {Tunnels: []Block{{Link: "wg0", Mark: 1, AllowLAN: true}}}} {
		last := map[string]BlockRule{}
		for _, r := range BlockRules(b, BlockFacts{}) {
			if r.Verdict == "accept" && r == (BlockRule{Chain: r.Chain, Verdict: "accept"}) {
				t.Errorf("%s accepts everything", r.Chain)
			}
			last[r.Chain] = r
		}
		for _, c := range BlockChains {
			if v := last[c].Verdict; v != "reject" && v != "drop" {
				t.Errorf("%s ends in %q", c, v)
			}
		}
	}
}

// TestKillSwitchPlan: the block comes before the link, its inverse is
// the last to run but PostDown, and it survives JSON (the journal).
func TestKillSwitchPlan(t *testing.T) {
	cfg, err := config.Parse([]byte("[Interface]\nPrivateKey = " + privKey + "\nAddress = 203.0.113.2/32\n[Peer]\nPublicKey = " + pubKey + "\nEndpoint = 192.0.2.1:51820\nAllowedIPs = 0.0.0.0/0\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build("wg0", cfg, defaultFacts, Options{KillSwitch: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ops[0].Kind != KSHold || p.Ops[1].Kind != LinkAdd || p.Block == nil || p.Block.AllowLAN {
		t.Fatalf("first ops %v, %v; block %v", p.Ops[0], p.Ops[1], p.Block)
	}
	inv, _ := p.Ops[0].Inverse()
	b, _ := json.Marshal(inv)
	var back Op
	if err := json.Unmarshal(b, &back); err != nil || back.Kind != KSRelease || !back.Block.Equal(*p.Block) {
		t.Errorf("inverse through JSON: %+v, %v", back, err)
	}
	if p, _ := Build("wg0", cfg, defaultFacts, Options{}); p.Block != nil || p.Ops[0].Kind == KSHold {
		t.Error("a block without KillSwitch")
	}
}
