package config

import (
	"fmt"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// leakTemplates are broken configs built around a key k, shaped after real
// mistakes: keys pasted bare, wrapped, truncated, in the wrong key or
// section, or mangled.
func leakTemplates(k string) []string {
	I := "[Interface]\nPrivateKey = " + priv + "\n"
	P := "[Peer]\nPublicKey = " + pub1 + "\n"
	out := []string{
		"[Interface]\n" + k + "\n",
		k + "\n[Interface]\n",
		k + " = " + k + "\n",
		I + k + "\n",
		I + " " + k + " # my key\n",
		I + P + k + "\n",
		"[" + k + "]\n",
		I + "[" + k + "]\n",
		"[Interface]\nPrivateKey " + k + "\n",
		"[Interface]\nPrivateKey: " + k + "\n",
		"[Interface]\nPrivateKey == " + k + "\n",
		"[Interface]\nPrivateKey = \"" + k + "\"\n",
		"[Interface]\nPrivateKey = " + k + k + "\n",
		"[Interface]\nPrivateKey = " + k + " " + k + "\n",
		"[Interface]\nPrivateKey = " + k[:43] + "\n",
		"[Interface]\nPrivateKey = " + k[1:] + "\n",
		"[Interface]\nPrivateKey = " + k + "x\n",
		"[Interface]\nPrivateKey = " + k[:40] + "!!!=\n",
		"[Interface]\nPrivateKey = " + k + "\nPrivateKey = " + k + "\n",
		"[Interface]\nPrivate Key = " + k + "\n",
		"[Interface]\nPrivateKey = " + k + "\n[Peer]\nPublicKey = " + k + "\n[Peer]\nPublicKey = " + k + "\n",
		"[Interface]\nPublicKey = " + k + "\n",
		"[Interface]\nPresharedKey = " + k + "\n",
		"[Peer]\nPublicKey = " + k + "\n",
		"PrivateKey = " + k + "\n",
		I + "PrivateKey = " + k + "\n",
		I + "ListenPort = " + k + "\n",
		I + "FwMark = " + k + "\n",
		I + "Address = " + k + "\n",
		I + "Address = 203.0.113.2/32, " + k + "\n",
		I + "DNS = " + k + "\n",
		I + "MTU = " + k + "\n",
		I + "Table = " + k + "\n",
		I + "SaveConfig = " + k + "\n",
		I + "PostUp = echo " + k + "\nColour = blue\n" + k + "\n",
		I + P + "PrivateKey = " + k + "\n",
		I + P + "PublicKey = " + k + "\n",
		I + P + "PresharedKey = " + k + "\nPresharedKey = " + k + "\n",
		I + P + "PresharedKey = " + k[:43] + "\n",
		I + P + "AllowedIPs = " + k + "\n",
		I + P + "Endpoint = " + k + "\n",
		I + P + "Endpoint = " + k + ":51820\n",
		I + P + "Endpoint = [" + k + "]:51820\n",
		I + P + "PersistentKeepalive = " + k + "\n",
		I + P + "Allowed" + k + " = 1\n",
		I + k + "Colour = blue\n",
		"[Interface]\nPrivateKey = " + k + "\nMTU = 1200\nAddress = 2001:db8::1\n",
	}
	// A key wrapped onto two lines, at every point: both halves must stay
	// unquoted, whichever of them is refused.
	for i := 1; i < len(k); i++ {
		out = append(out,
			I+k[:i]+"\n"+k[i:]+"\n",
			I+k[i:]+"\n",
			I+k[i:]+" # comment\n",
			"[Interface]\nPrivateKey = "+k[:i]+"\n"+k[i:]+"\n",
		)
	}
	return out
}

// TestErrorsNeverLeakKeys breaks configs in many ways around real keys and
// checks that no message carries a key or any 8 characters of one.
func TestErrorsNeverLeakKeys(t *testing.T) {
	keys := append([]string(nil), testKeys...)
	for range 20 {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.String(), k.PublicKey().String())
	}
	n := 0
	for _, k := range keys {
		for _, in := range leakTemplates(k) {
			n++
			cfg, err := Parse([]byte(in))
			if err == nil {
				t.Errorf("accepted %q: %v", in, cfg)
				continue
			}
			if s := leaked(err.Error(), keys); s != "" {
				t.Fatalf("error %q for input %q contains %q of a key", err, in, s)
			}
		}
	}
	t.Logf("%d broken configs, no key material in any error", n)
}

// TestFormatNeverLeaksKeys prints a parsed config every way fmt can.
func TestFormatNeverLeaksKeys(t *testing.T) {
	cfg, err := Parse([]byte("[Interface]\nPrivateKey = " + priv + "\nAddress = 203.0.113.2\n[Peer]\nPublicKey = " + pub1 + "\nPresharedKey = " + psk + "\nEndpoint = 192.0.2.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{cfg, *cfg, cfg.Interface, &cfg.Interface, cfg.Peers, cfg.Peers[0], &cfg.Peers[0]} {
			out := fmt.Sprintf(verb, v)
			if s := leaked(out, testKeys); s != "" {
				t.Errorf("Sprintf(%s, %T) = %q contains %q of a key", verb, v, out, s)
			}
			// Hex or decimal bytes of a key are key material too.
			if strings.Contains(out, "40 17 242") || strings.Contains(strings.ToLower(out), "2811f271") {
				t.Errorf("Sprintf(%s, %T) = %q prints the private key's bytes", verb, v, out)
			}
		}
	}
	if got := cfg.String(); !strings.Contains(got, "1 peers") {
		t.Errorf("String() = %q, want a summary", got)
	}
}

// leaked returns a substring of at least 8 characters of one of keys
// found in s, or "".
func leaked(s string, keys []string) string {
	for _, k := range keys {
		for i := 0; i+8 <= len(k); i++ {
			if strings.Contains(s, k[i:i+8]) {
				return k[i : i+8]
			}
		}
	}
	return ""
}
