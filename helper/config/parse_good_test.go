package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseGood(t *testing.T) {
	cases := []struct {
		name, text string
		want       *Config
	}{
		{"full-tunnel-v4", `[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.2/32
DNS = 203.0.113.1

[Peer]
PublicKey = ` + pub1 + `
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25
`, &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.2/32"), DNS: addrs("203.0.113.1")},
			Peers: []Peer{{PublicKey: mustKey(pub1), AllowedIPs: pfx("0.0.0.0/0"),
				Endpoint: &Endpoint{Host: "192.0.2.1", Port: 51820}, PersistentKeepalive: 25, Line: 6}},
		}},
		{"full-tunnel-v6", `[Interface]
PrivateKey = ` + priv + `
Address = 2001:db8:3::2
DNS = 2001:db8:3::1
MTU = 1280

[Peer]
PublicKey = ` + pub1 + `
AllowedIPs = ::/0
Endpoint = [2001:db8:1::1]:51820
`, &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("2001:db8:3::2/128"), DNS: addrs("2001:db8:3::1"), MTU: 1280},
			Peers: []Peer{{PublicKey: mustKey(pub1), AllowedIPs: pfx("::/0"),
				Endpoint: &Endpoint{Host: "2001:db8:1::1", Port: 51820}, Line: 7}},
		}},
		{"full-tunnel-dual-stack", `[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.2/32
Address = 2001:db8:3::2/128
DNS = 203.0.113.1, 2001:db8:3::1

[Peer]
PublicKey = ` + pub1 + `
PresharedKey = ` + psk + `
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 192.0.2.1:51820
`, &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.2/32", "2001:db8:3::2/128"),
				DNS: addrs("203.0.113.1", "2001:db8:3::1")},
			Peers: []Peer{{PublicKey: mustKey(pub1), PresharedKey: keyp(mustKey(psk)), AllowedIPs: pfx("0.0.0.0/0", "::/0"),
				Endpoint: &Endpoint{Host: "192.0.2.1", Port: 51820}, Line: 7}},
		}},
		{"split-tunnel-host-bits", `[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.2/24, 2001:db8:3::2/64

[Peer]
PublicKey = ` + pub1 + `
AllowedIPs = 198.51.100.7/24, 2001:db8:2::1/64
Endpoint = vpn.example.com:443
`, &Config{
			// Address keeps its host bits; AllowedIPs are masked, as wg stores them.
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.2/24", "2001:db8:3::2/64")},
			Peers: []Peer{{PublicKey: mustKey(pub1), AllowedIPs: pfx("198.51.100.0/24", "2001:db8:2::/64"),
				Endpoint: &Endpoint{Host: "vpn.example.com", Port: 443}, Line: 5}},
		}},
		{"server-several-peers", `[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.1/24
ListenPort = 51820

[Peer]
PublicKey = ` + pub1 + `
AllowedIPs = 203.0.113.2/32

[Peer]
PublicKey = ` + pub2 + `
PresharedKey = ` + psk + `
AllowedIPs = 203.0.113.3/32
AllowedIPs = 198.51.100.0/24
PersistentKeepalive = off

[Peer]
PublicKey = ` + pub3 + `
PresharedKey = ` + psk2 + `
AllowedIPs =
PersistentKeepalive = 0
`, &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.1/24"), ListenPort: intp(51820)},
			Peers: []Peer{
				{PublicKey: mustKey(pub1), AllowedIPs: pfx("203.0.113.2/32"), Line: 6},
				{PublicKey: mustKey(pub2), PresharedKey: keyp(mustKey(psk)), AllowedIPs: pfx("203.0.113.3/32", "198.51.100.0/24"), Line: 10},
				{PublicKey: mustKey(pub3), PresharedKey: keyp(mustKey(psk2)), Line: 17},
			},
		}},
		{"all-keys", `# every key there is
[Interface]
PrivateKey = ` + priv + `
Address = 203.0.113.2/24, 2001:db8:3::2/64
ListenPort = 0
FwMark = 0xca6c
DNS = 203.0.113.1, corp.example
DNS = 2001:db8:3::1, ~example.org, ~.
MTU = 1420
Table = 1234
PreUp = logger "going up #1"   # wg-quick cuts the line at the first '#'  
PostUp = ip rule add from 203.0.113.2 table 1234
PostUp = echo second
PreDown = echo down
PostDown = ip rule del from 203.0.113.2 table 1234
SaveConfig = true

[Peer]
PublicKey = ` + pub1 + `
PresharedKey = ` + psk + `
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = [2001:db8:1::1]:443
PersistentKeepalive = 65535
`, &Config{
			Interface: Interface{
				PrivateKey: mustKey(priv),
				Addresses:  pfx("203.0.113.2/24", "2001:db8:3::2/64"),
				ListenPort: intp(0), FwMark: u32p(0xca6c),
				DNS:       addrs("203.0.113.1", "2001:db8:3::1"),
				DNSSearch: []string{"corp.example", "~example.org", "~."},
				MTU:       1420, Table: Table{Mode: TableNumber, Number: 1234},
				PreUp:      []string{`logger "going up`},
				PostUp:     []string{"ip rule add from 203.0.113.2 table 1234", "echo second"},
				PreDown:    []string{"echo down"},
				PostDown:   []string{"ip rule del from 203.0.113.2 table 1234"},
				SaveConfig: true,
			},
			Peers: []Peer{{PublicKey: mustKey(pub1), PresharedKey: keyp(mustKey(psk)), AllowedIPs: pfx("0.0.0.0/0", "::/0"),
				Endpoint: &Endpoint{Host: "2001:db8:1::1", Port: 443}, PersistentKeepalive: 65535, Line: 18}},
		}},
		{"case-variants", `[INTERFACE]
privatekey = ` + priv + `
ADDRESS = 203.0.113.2/32
dNs = 203.0.113.1, Corp.Example
fwmark = OFF
saveconfig = TRUE
postup = echo hi
[pEeR]
PUBLICKEY = ` + pub1 + `
allowedIPs = 0.0.0.0/0
ENDPOINT = 192.0.2.1:51820
persistentkeepalive = Off
`, &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.2/32"), DNS: addrs("203.0.113.1"),
				DNSSearch: []string{"Corp.Example"}, FwMark: u32p(0), SaveConfig: true, PostUp: []string{"echo hi"}},
			Peers: []Peer{{PublicKey: mustKey(pub1), AllowedIPs: pfx("0.0.0.0/0"), Endpoint: &Endpoint{Host: "192.0.2.1", Port: 51820}, Line: 8}},
		}},
		{"comments-and-spacing", "# leading comment\n   \n\t# indented comment\n  [Interface]  # section comment\n" +
			"\tPrivateKey=" + priv + "#no space before the comment\n" +
			"Address   =\t203.0.113.2/32 ,2001:db8:3::2/128  \n" +
			"  \t\n" +
			"[Peer]\n" +
			"PublicKey = " + pub1 + "   # the server\n" +
			"AllowedIPs = 0.0.0.0/0,::/0 # everything\n" +
			"Endpoint=192.0.2.1:51820", // no final newline
			&Config{
				Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.2/32", "2001:db8:3::2/128")},
				Peers:     []Peer{{PublicKey: mustKey(pub1), AllowedIPs: pfx("0.0.0.0/0", "::/0"), Endpoint: &Endpoint{Host: "192.0.2.1", Port: 51820}, Line: 8}},
			}},
		{"crlf", strings.ReplaceAll(`[Interface]
PrivateKey = `+priv+`
Address = 203.0.113.2/32
PostUp = echo up
Table = off

[Peer]
PublicKey = `+pub1+`
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.1:51820
`, "\n", "\r\n"), &Config{
			// The hook must not end in '\r', or bash would run "echo up\r".
			Interface: Interface{PrivateKey: mustKey(priv), Addresses: pfx("203.0.113.2/32"), PostUp: []string{"echo up"}, Table: Table{Mode: TableOff}},
			Peers:     []Peer{{PublicKey: mustKey(pub1), AllowedIPs: pfx("0.0.0.0/0"), Endpoint: &Endpoint{Host: "192.0.2.1", Port: 51820}, Line: 7}},
		}},
		{"byte-order-mark", "\uFEFF[Interface]\nPrivateKey = " + priv + "\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv)},
		}},
		{"no-peers-empty-lists", "[Interface]\nPrivateKey = " + priv + "\nAddress =\nDNS =\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv)},
		}},
		{"table-main-fwmark-decimal", "[Interface]\nPrivateKey = " + priv + "\nTable = main\nFwMark = 51820\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Table: Table{Mode: TableNumber, Number: 254}, FwMark: u32p(51820)},
		}},
		{"table-default-fwmark-zero", "[Interface]\nPrivateKey = " + priv + "\nTable = default\nFwMark = 0\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Table: Table{Mode: TableNumber, Number: 253}, FwMark: u32p(0)},
		}},
		{"table-auto-max", "[Interface]\nPrivateKey = " + priv + "\nTable = auto\n[Peer]\nPublicKey = " + pub1 + "\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Table: Table{Mode: TableAuto}},
			Peers:     []Peer{{PublicKey: mustKey(pub1), Line: 4}},
		}},
		{"table-max-number", "[Interface]\nPrivateKey = " + priv + "\nTable = 4294967295\nFwMark = 0xffffffff\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv), Table: Table{Mode: TableNumber, Number: 4294967295}, FwMark: u32p(0xffffffff)},
		}},
		{"empty-hook-and-hash-in-hook", "[Interface]\nPrivateKey = " + priv + "\nPreDown =\nPostDown = echo a#b\n", &Config{
			// An empty hook still counts as a hook: wg-quick would run it.
			Interface: Interface{PrivateKey: mustKey(priv), PreDown: []string{""}, PostDown: []string{"echo a"}},
		}},
		{"wg-showconf-output", `[Interface]
ListenPort = 51820
FwMark = 0x1
PrivateKey = ` + priv + `

[Peer]
PublicKey = ` + pub1 + `
PresharedKey = ` + psk + `
AllowedIPs = 203.0.113.2/32, 2001:db8:3::2/128
Endpoint = [2001:db8:1::1]:51820
PersistentKeepalive = 25
`, &Config{
			Interface: Interface{PrivateKey: mustKey(priv), ListenPort: intp(51820), FwMark: u32p(1)},
			Peers: []Peer{{PublicKey: mustKey(pub1), PresharedKey: keyp(mustKey(psk)), AllowedIPs: pfx("203.0.113.2/32", "2001:db8:3::2/128"),
				Endpoint: &Endpoint{Host: "2001:db8:1::1", Port: 51820}, PersistentKeepalive: 25, Line: 6}},
		}},
		{"endpoint-host-forms", "[Interface]\nPrivateKey = " + priv + "\n" +
			"[Peer]\nPublicKey = " + pub1 + "\nEndpoint = wg_1.example.net.:65535\n" +
			"[Peer]\nPublicKey = " + pub2 + "\nEndpoint = [fe80::1%eth0]:1\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv)},
			Peers: []Peer{
				{PublicKey: mustKey(pub1), Endpoint: &Endpoint{Host: "wg_1.example.net.", Port: 65535}, Line: 3},
				{PublicKey: mustKey(pub2), Endpoint: &Endpoint{Host: "fe80::1%eth0", Port: 1}, Line: 6},
			},
		}},
		{"zero-psk-allowed", "[Interface]\nPrivateKey = " + priv + "\n[Peer]\nPublicKey = " + pub1 + "\nPresharedKey = " + zeroKey + "\n", &Config{
			Interface: Interface{PrivateKey: mustKey(priv)},
			Peers:     []Peer{{PublicKey: mustKey(pub1), PresharedKey: keyp(mustKey(zeroKey)), Line: 3}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, cmpOpts...); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestSeedsParse(t *testing.T) {
	for name, b := range seedConfigs(t) {
		if _, err := Parse(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHasScripts(t *testing.T) {
	base := "[Interface]\nPrivateKey = " + priv + "\n"
	for text, want := range map[string]bool{
		base:                           false,
		base + "Address = 203.0.113.2": false,
		base + "PreUp = true":          true,
		base + "postup = true":         true,
		base + "PreDown =":             true,
		base + "POSTDOWN = true":       true,
	} {
		cfg, err := Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.HasScripts(); got != want {
			t.Errorf("HasScripts() = %v for %q, want %v", got, text, want)
		}
	}
}
