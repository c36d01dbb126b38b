package config

import "testing"

func TestFullTunnel(t *testing.T) {
	for text, want := range map[string]bool{
		"AllowedIPs = 0.0.0.0/0\n":              true,
		"AllowedIPs = 198.51.100.0/24, ::/0\n":  true,
		"AllowedIPs = 198.51.100.0/24\n":        false,
		"AllowedIPs = 0.0.0.0/1, 128.0.0.0/1\n": false,
		"AllowedIPs = 0.0.0.0/0\n#table\n":      true,
	} {
		cfg, err := Parse([]byte("[Interface]\nPrivateKey = " + priv + "\n[Peer]\nPublicKey = " + pub1 + "\n" + text))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.FullTunnel(); got != want {
			t.Errorf("%q: FullTunnel = %v, want %v", text, got, want)
		}
	}
	cfg, err := Parse([]byte("[Interface]\nPrivateKey = " + priv + "\nTable = 1234\n[Peer]\nPublicKey = " + pub1 + "\nAllowedIPs = 0.0.0.0/0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FullTunnel() {
		t.Error("Table = 1234 takes no policy routing, so it is not a full tunnel")
	}
}
