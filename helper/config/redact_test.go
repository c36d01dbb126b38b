package config

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain",
			"[Interface]\nPrivateKey = " + priv + "\nAddress = 203.0.113.2/32\n\n[Peer]\nPublicKey = " + pub1 + "\nPresharedKey = " + psk + "\n",
			"[Interface]\nPrivateKey = (hidden)\nAddress = 203.0.113.2/32\n\n[Peer]\nPublicKey = " + pub1 + "\nPresharedKey = (hidden)\n"},
		{"layout-kept",
			"# my laptop\r\n[Interface]\r\n  privatekey=" + priv + "  # mine\r\n\tPRESHAREDKEY\t=\t" + psk + "\t\r\nDNS = 203.0.113.1",
			"# my laptop\r\n[Interface]\r\n  privatekey=(hidden)  # mine\r\n\tPRESHAREDKEY\t=\t(hidden)\t\r\nDNS = 203.0.113.1"},
		{"spaced-key-name", "Private Key = " + priv + "\n", "Private Key = (hidden)\n"},
		{"commented-out-key", "#PrivateKey = " + psk2 + "\nPrivateKey = " + priv + "\n", "#PrivateKey = (hidden)\nPrivateKey = (hidden)\n"},
		{"copy-in-hook", "PrivateKey = " + priv + "\nPostUp = wg set %i private-key <(echo " + priv + ")\n",
			"PrivateKey = (hidden)\nPostUp = wg set %i private-key <(echo (hidden))\n"},
		{"not-a-key-hidden-on-its-line-only", "PrivateKey = abc\nAddress = abc\n", "PrivateKey = (hidden)\nAddress = abc\n"},
		{"empty-value-kept", "PrivateKey =\nPresharedKey=   # none\n", "PrivateKey =\nPresharedKey=   # none\n"},
		{"other-keys-kept", "PublicKey = " + pub1 + "\nPrivateKeyFile = /x\nEndpoint = 192.0.2.1:1\n", "PublicKey = " + pub1 + "\nPrivateKeyFile = /x\nEndpoint = 192.0.2.1:1\n"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Redact([]byte(c.in)); got != c.want {
				t.Errorf("Redact:\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

// TestRedactSeeds checks that redacting a realistic config hides its
// secrets and changes nothing but them.
func TestRedactSeeds(t *testing.T) {
	for name, data := range seedConfigs(t) {
		cfg, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := Redact(data)
		want := strings.ReplaceAll(string(data), cfg.Interface.PrivateKey.String(), hidden)
		for _, p := range cfg.Peers {
			if p.PresharedKey != nil {
				want = strings.ReplaceAll(want, p.PresharedKey.String(), hidden)
			}
		}
		if got != want {
			t.Errorf("%s: Redact:\n%s\nwant\n%s", name, got, want)
		}
	}
}
