package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWGQuickStrip(t *testing.T) {
	cfg, err := Parse([]byte(`# comment
[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.2/32
DNS = 203.0.113.1, example.org
MTU = 1420
Table = off
PostUp = echo up
SaveConfig = true
ListenPort = 51820
FwMark = 0xca6c

[Peer]
PublicKey = ` + pub1 + `
PresharedKey = ` + psk + `
AllowedIPs = 0.0.0.0/0
AllowedIPs = ::/0 # more
Endpoint = [2001:db8::1]:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ` + pub2 + `
Endpoint = vpn.example.com:1
PersistentKeepalive = off
`))
	if err != nil {
		t.Fatal(err)
	}
	want := `[Interface]
PrivateKey = ` + priv + `
ListenPort = 51820
FwMark = 0xca6c

[Peer]
PublicKey = ` + pub1 + `
PresharedKey = ` + psk + `
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = [2001:db8::1]:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ` + pub2 + `
Endpoint = vpn.example.com:1
`
	if diff := cmp.Diff(want, cfg.WGQuickStrip()); diff != "" {
		t.Errorf("WGQuickStrip (-want +got)\n%s", diff)
	}
}

func TestWGQuickStripFwMarkOff(t *testing.T) {
	cfg, err := Parse([]byte("[Interface]\nPrivateKey = " + priv + "\nFwMark = off\nListenPort = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "[Interface]\nPrivateKey = " + priv + "\nListenPort = 0\nFwMark = off\n"
	if got := cfg.WGQuickStrip(); got != want {
		t.Errorf("WGQuickStrip = %q, want %q", got, want)
	}
}

// TestStripRoundTripSeeds checks that every seed config strips to text
// that parses back to the same wg settings.
func TestStripRoundTripSeeds(t *testing.T) {
	for name, data := range seedConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			checkStrip(t, cfg)
		})
	}
}
