package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Test keys, generated for these tests.
const (
	priv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	pub  = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
	pub2 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
	psk  = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
)

func mustKey(s string) wgtypes.Key {
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func intp(i int) *int                 { return &i }
func u32p(u uint32) *uint32           { return &u }
func keyp(k wgtypes.Key) *wgtypes.Key { return &k }

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestParseGood(t *testing.T) {
	cases := []struct {
		name, text string
		want       *Config
	}{
		{"full", `# comment
[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.2/24, 2001:db8:3::2
ListenPort = 51820
FwMark = 0xca6c
DNS = 203.0.113.1, 2001:db8:3::1, example.org
MTU = 1380
Table = 1234
PreUp = echo a # kept
PostUp = echo b
PreDown = echo c
PostDown = echo d
SaveConfig = true

[Peer]
PublicKey = ` + pub + `
PresharedKey = ` + psk + `
AllowedIPs = 0.0.0.0/0, ::/0
AllowedIPs = 198.51.100.7/24
Endpoint = vpn.example.org:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ` + pub2 + `
Endpoint = [2001:db8:1::1]:443
PersistentKeepalive = off
`, &Config{
			Interface: Interface{
				PrivateKey: mustKey(priv),
				Addresses:  pfx("203.0.113.2/24", "2001:db8:3::2/128"),
				ListenPort: intp(51820), FwMark: u32p(51820),
				DNS:       []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8:3::1")},
				DNSSearch: []string{"example.org"},
				MTU:       1380, Table: Table{Mode: TableNumber, Number: 1234},
				PreUp: []string{"echo a # kept"}, PostUp: []string{"echo b"}, PreDown: []string{"echo c"}, PostDown: []string{"echo d"},
				SaveConfig: true,
			},
			Peers: []Peer{
				{PublicKey: mustKey(pub), PresharedKey: keyp(mustKey(psk)), AllowedIPs: pfx("0.0.0.0/0", "::/0", "198.51.100.0/24"),
					Endpoint: &Endpoint{Host: "vpn.example.org", Port: 51820}, PersistentKeepalive: 25, Line: 16},
				{PublicKey: mustKey(pub2), Endpoint: &Endpoint{Host: "2001:db8:1::1", Port: 443}, Line: 24},
			},
		}},
		{"case-crlf-off", "[INTERFACE]\r\nprivatekey=" + priv + "\r\nfwmark = off\r\ntable = off\r\n[peer]\r\npublickey = " + pub + "\r\nallowedips =\r\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv), FwMark: u32p(0), Table: Table{Mode: TableOff}},
			Peers:     []Peer{{PublicKey: mustKey(pub), Line: 5}},
		}},
		{"table-auto-main", "[Interface]\nPrivateKey = " + priv + "\nTable = main\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Table: Table{Mode: TableNumber, Number: 254}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestParseBad checks each rule's error: the line and key named.
func TestParseBad(t *testing.T) {
	I := "[Interface]\nPrivateKey = " + priv + "\n"
	P := "[Peer]\nPublicKey = " + pub + "\n"
	cases := []struct {
		name, text string
		line       int
		key        string
	}{
		{"empty", "", 0, ""},
		{"only-comments", "# nothing\n", 0, ""},
		{"no-private-key", "[Interface]\nAddress = 203.0.113.2/32\n", 1, ""},
		{"second-interface", I + "[Interface]\n", 3, ""},
		{"peer-first", P + I, 1, ""},
		{"unknown-section", I + "[Peers]\n", 3, ""},
		{"unknown-iface-key", I + "Endpoint = 192.0.2.1:1\n", 3, "Endpoint"},
		{"unknown-peer-key", I + P + "Address = 203.0.113.2/32\n", 5, "Address"},
		{"no-equals", I + "Address\n", 3, ""},
		{"bad-private-key", "[Interface]\nPrivateKey = " + priv[:43] + "\n", 2, "PrivateKey"},
		{"bad-psk", I + P + "PresharedKey = xyz=\n", 5, "PresharedKey"},
		{"address-zone", I + "Address = fe80::1%eth0/64\n", 3, "Address"},
		{"address-garbage", I + "Address = 203.0.113.2/24 junk\n", 3, "Address"},
		{"listenport-neg", I + "ListenPort = -1\n", 3, "ListenPort"},
		{"fwmark-big", I + "FwMark = 0x100000000\n", 3, "FwMark"},
		{"dns-bad", I + "DNS = 203.0.113.1, exa mple\n", 3, "DNS"},
		{"mtu-small", I + "MTU = 10\n", 3, "MTU"},
		{"mtu-v6", I + "Address = 2001:db8::2/128\nMTU = 1200\n", 1, ""},
		{"table-zero", I + "Table = 0\n", 3, "Table"},
		{"dup-listenport", I + "ListenPort = 1\nListenPort = 2\n", 4, "ListenPort"},
		{"dup-endpoint", I + P + "Endpoint = 192.0.2.1:1\nEndpoint = 192.0.2.1:2\n", 6, "Endpoint"},
		{"endpoint-bare-v6", I + P + "Endpoint = 2001:db8::1:51820\n", 5, "Endpoint"},
		{"endpoint-bad-host", I + P + "Endpoint = bad_host!:1\n", 5, "Endpoint"},
		{"endpoint-v4-in-brackets", I + P + "Endpoint = [192.0.2.1]:1\n", 5, "Endpoint"},
		{"keepalive-big", I + P + "PersistentKeepalive = 65536\n", 5, "PersistentKeepalive"},
		{"peer-no-key", I + "[Peer]\nAllowedIPs = 0.0.0.0/0\n", 3, ""},
		{"dup-peer", I + P + P, 5, ""},
		{"peer-is-self", I + "[Peer]\nPublicKey = " + mustKey(priv).PublicKey().String() + "\n", 3, ""},
		{"saveconfig-yes", I + "SaveConfig = yes\n", 3, "SaveConfig"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want a *ParseError", err)
			}
			if pe.Line != c.line || pe.Key != c.key {
				t.Errorf("error %q names line %d key %q, want line %d key %q", err, pe.Line, pe.Key, c.line, c.key)
			}
		})
	}
}

func TestRejectsHugeNulAndBadUTF8(t *testing.T) {
	for _, data := range []string{
		"[Interface]\nPrivateKey = " + priv + "\n" + strings.Repeat("#", MaxSize),
		"[Interface]\x00\n",
		"[Interface]\nPrivateKey = " + priv + "\n# \xc3\x28\n",
	} {
		if _, err := Parse([]byte(data)); err == nil {
			t.Errorf("accepted %d bytes starting %q", len(data), data[:12])
		}
	}
}

// TestErrorsNeverLeakKeys breaks configs in many ways around real keys
// and checks that no message carries any 8 characters of a key.
func TestErrorsNeverLeakKeys(t *testing.T) {
	keys := []string{priv, pub, psk}
	var inputs []string
	for _, k := range keys {
		inputs = append(inputs,
			"[Interface]\n"+k+"\n",
			"[Interface]\nPrivateKey = "+k+"\n"+k+"\n",
			"[Interface]\nPrivateKey = "+k[:40]+"\n",
			"[Interface]\nPrivateKey = "+k+"x\n",
			"[Interface]\nPrivateKey = "+k+"\nPrivateKey = "+k+"\n",
			"[Interface]\nPrivateKey = "+priv+"\nAddress = "+k+"\n",
			"[Interface]\nPrivateKey = "+priv+"\nDNS = "+k+"\n",
			"[Interface]\nPrivateKey = "+priv+"\n[Peer]\nPublicKey = "+pub2+"\nEndpoint = "+k+"\n",
			"[Interface]\nPrivateKey = "+priv+"\n[Peer]\nPublicKey = "+pub2+"\nAllowedIPs = "+k+"\n",
			"[Interface]\nPrivateKey = "+priv+"\n[Peer]\nPresharedKey = "+k+"\nPresharedKey = "+k+"\n",
			"["+k+"]\n",
			k+" = "+k+"\n",
			"[Interface]\nPrivateKey = "+priv+"\nFwMark = "+k+"\nTable = "+k+"\n",
		)
	}
	for _, in := range inputs {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("accepted %q", in)
			continue
		}
		msg := err.Error()
		for _, k := range keys {
			for i := 0; i+8 <= len(k); i++ {
				if strings.Contains(msg, k[i:i+8]) {
					t.Fatalf("error %q contains key material", msg)
				}
			}
		}
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"wg0", "a", "x_y=z+1.2-3", "123456789012345"} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", ".", "..", "../x", "a/b", "1234567890123456", "a b", "a\nb", "a\x00b", "é"} {
		if err := ValidName(n); err == nil {
			t.Errorf("ValidName(%q) accepted", n)
		}
	}
}

func TestRedact(t *testing.T) {
	in := "[Interface]\r\n  privatekey=" + priv + "  # mine\r\nAddress = 203.0.113.2/32\n[Peer]\nPublicKey = " + pub + "\nPresharedKey = " + psk + "\n"
	want := "[Interface]\r\n  privatekey=(hidden)  # mine\r\nAddress = 203.0.113.2/32\n[Peer]\nPublicKey = " + pub + "\nPresharedKey = (hidden)\n"
	if got := Redact([]byte(in)); got != want {
		t.Errorf("Redact:\n%q\nwant\n%q", got, want)
	}
}

func TestStripRoundTrip(t *testing.T) {
	cfg, err := Parse([]byte("[Interface]\nPrivateKey = " + priv + "\nAddress = 203.0.113.2/32\nDNS = 203.0.113.1\nListenPort = 5\nFwMark = off\n[Peer]\nPublicKey = " + pub + "\nPresharedKey = " + psk + "\nAllowedIPs = 0.0.0.0/0\nEndpoint = [2001:db8::1]:7\nPersistentKeepalive = 9\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.WGQuickStrip()
	for _, wgQuickOnly := range []string{"Address", "DNS", "MTU", "Table"} {
		if strings.Contains(s, wgQuickOnly) {
			t.Errorf("strip kept %s:\n%s", wgQuickOnly, s)
		}
	}
	back, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("stripped config does not parse: %v\n%s", err, s)
	}
	cfg.Interface.Addresses, cfg.Interface.DNS = nil, nil
	if diff := cmp.Diff(cfg, back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Line" }, cmp.Ignore())); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
}
