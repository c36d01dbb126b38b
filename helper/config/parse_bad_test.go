package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/ipc"
)

type badCase struct {
	name, text string
	line       int
	key        string
	msg        string // if set, the whole Error() text
}

// badCases are broken configs, each with the line and key its error must
// name. I is lines 1-2 and P is two more lines.
func badCases() []badCase {
	I := "[Interface]\nPrivateKey = " + priv + "\n"
	P := "[Peer]\nPublicKey = " + pub1 + "\n"
	return []badCase{
		// Whole input.
		{name: "empty", text: "", msg: "config has no [Interface] section"},
		{name: "only-comments", text: "# nothing\n\n"},
		{name: "nul", text: I + "Address = 203.0.113.2\x00\n", msg: "config contains a NUL byte"},
		{name: "bad-utf8", text: I + "# caf\xe9\n", msg: "config is not valid UTF-8"},
		{name: "too-big", text: I + strings.Repeat("#", ipc.MaxConfigSize), msg: "config is larger than 64 KiB"},

		// Sections.
		{name: "no-private-key", text: "[Interface]\nAddress = 203.0.113.2/32\n", line: 1, msg: "line 1: [Interface] has no PrivateKey"},
		{name: "second-interface", text: I + "[Interface]\n", line: 3},
		{name: "peer-first", text: P + I, line: 1},
		{name: "unknown-section", text: I + "[Peers]\n", line: 3},
		{name: "spaced-section", text: "[ Interface ]\nPrivateKey = " + priv + "\n", line: 1},
		{name: "section-junk", text: I + "[Peer] x\n", line: 3},
		{name: "key-outside-section", text: "PrivateKey = " + priv + "\n[Interface]\n", line: 1, key: "PrivateKey"},
		{name: "peer-without-key", text: I + "[Peer]\nAllowedIPs = 0.0.0.0/0\n", line: 3, msg: "line 3: [Peer] has no PublicKey"},
		{name: "peer-without-key-then-peer", text: I + "[Peer]\nEndpoint = 192.0.2.1:1\n" + P, line: 3},

		// Lines and keys.
		{name: "unknown-key", text: I + "Colour = blue\n", line: 3, key: "Colour", msg: "line 3: Colour: unknown key in [Interface]"},
		{name: "unknown-peer-key", text: I + P + "Comment = home\n", line: 5, key: "Comment"},
		{name: "peer-key-in-interface", text: I + "Endpoint = 192.0.2.1:1\n", line: 3, key: "Endpoint"},
		{name: "interface-key-in-peer", text: I + P + "Address = 203.0.113.2/32\n", line: 5, key: "Address"},
		{name: "known-key-no-equals", text: I + "Address 203.0.113.2\n", line: 3, key: ""},
		{name: "known-key-alone", text: I + "DNS\n", line: 3, key: "DNS"},
		{name: "no-equals", text: I + "hello\n", line: 3},
		{name: "pasted-bare-key", text: I + pub1 + "\n", line: 3, msg: "line 3: unrecognised line (want Key = Value)"},
		{name: "wrapped-key-tail", text: I + "Tail0abcXYZ=\n", line: 3},
		{name: "odd-key-name", text: I + "Private-Key = " + priv + "\n", line: 3},
		{name: "dup-private-key", text: I + "privatekey = " + priv + "\n", line: 3, key: "privatekey"},
		{name: "dup-listenport", text: I + "ListenPort = 1\nListenPort = 2\n", line: 4, key: "ListenPort", msg: "line 4: ListenPort: duplicate key: it may appear once per section"},
		{name: "dup-endpoint", text: I + P + "Endpoint = 192.0.2.1:1\nEndpoint = 192.0.2.1:2\n", line: 6, key: "Endpoint"},

		// Keys.
		{name: "short-private-key", text: "[Interface]\nPrivateKey = " + priv[:43] + "\n", line: 2, key: "PrivateKey"},
		{name: "long-private-key", text: "[Interface]\nPrivateKey = A" + priv + "\n", line: 2, key: "PrivateKey"},
		{name: "noncanonical-key", text: "[Interface]\nPrivateKey = " + priv[:42] + "d=\n", line: 2, key: "PrivateKey"},
		{name: "url-base64-key", text: "[Interface]\nPrivateKey = " + strings.NewReplacer("+", "-", "/", "_").Replace(priv) + "\n", line: 2, key: "PrivateKey"},
		{name: "key-inner-space", text: "[Interface]\nPrivateKey = " + priv[:20] + " " + priv[21:] + "\n", line: 2, key: "PrivateKey"},
		{name: "zero-private-key", text: "[Interface]\nPrivateKey = " + zeroKey + "\n", line: 2, key: "PrivateKey"},
		{name: "empty-private-key", text: "[Interface]\nPrivateKey =\n", line: 2, key: "PrivateKey"},
		{name: "zero-public-key", text: I + "[Peer]\nPublicKey = " + zeroKey + "\n", line: 4, key: "PublicKey"},
		{name: "peer-is-self", text: I + "[Peer]\nPublicKey = " + selfPub + "\n", line: 4, key: "PublicKey"},
		{name: "peer-is-self-after-error-free-peers", text: I + P + "[Peer]\npublickey = " + selfPub + "\n[Peer]\nPublicKey = " + pub2 + "\n", line: 6, key: "publickey"},
		{name: "dup-peer", text: I + P + "AllowedIPs = 203.0.113.2\n" + P, line: 7, key: "PublicKey", msg: "line 7: PublicKey: the same key as the PublicKey on line 4"},
		{name: "bad-psk", text: I + P + "PresharedKey = xyz=\n", line: 5, key: "PresharedKey"},

		// [Interface] values.
		{name: "address-garbage", text: I + "Address = 203.0.113.2/24 junk\n", line: 3, key: "Address"},
		{name: "address-inner-space", text: I + "Address = 203.0.113.2 / 24\n", line: 3, key: "Address"},
		{name: "address-zone", text: I + "Address = fe80::1%eth0/64\n", line: 3, key: "Address"},
		{name: "address-prefix-33", text: I + "Address = 203.0.113.2/33\n", line: 3, key: "Address"},
		{name: "address-empty-item", text: I + "Address = 203.0.113.2,,203.0.113.3\n", line: 3, key: "Address"},
		{name: "second-address-line", text: I + "Address = 203.0.113.2/32\naddress = 203.0.113.300\n", line: 4, key: "address"},
		{name: "listenport-negative", text: I + "ListenPort = -1\n", line: 3, key: "ListenPort"},
		{name: "listenport-big", text: I + "ListenPort = 65536\n", line: 3, key: "ListenPort"},
		{name: "listenport-name", text: I + "ListenPort = wireguard\n", line: 3, key: "ListenPort"},
		{name: "fwmark-big", text: I + "FwMark = 0x100000000\n", line: 3, key: "FwMark"},
		{name: "fwmark-upper-x", text: I + "FwMark = 0X10\n", line: 3, key: "FwMark"},
		{name: "fwmark-bare-0x", text: I + "FwMark = 0x\n", line: 3, key: "FwMark"},
		{name: "dns-inner-space", text: I + "DNS = 203.0.113.1, exa mple.org\n", line: 3, key: "DNS"},
		{name: "dns-numeric", text: I + "DNS = 203.0.113\n", line: 3, key: "DNS"},
		{name: "dns-trailing-comma", text: I + "DNS = 203.0.113.1,\n", line: 3, key: "DNS"},
		{name: "mtu-small", text: I + "MTU = 67\n", line: 3, key: "MTU"},
		{name: "mtu-big", text: I + "MTU = 65536\n", line: 3, key: "MTU"},
		{name: "mtu-v6", text: I + "MTU = 1279\nAddress = 2001:db8::2/128\n", line: 3, key: "MTU",
			msg: "line 3: MTU: below 1280, the minimum for IPv6, and an Address is IPv6"},
		{name: "table-zero", text: I + "Table = 0\n", line: 3, key: "Table"},
		{name: "table-upper-off", text: I + "Table = OFF\n", line: 3, key: "Table"},
		{name: "table-local", text: I + "Table = local\n", line: 3, key: "Table"},
		{name: "table-big", text: I + "Table = 4294967296\n", line: 3, key: "Table"},
		{name: "saveconfig-yes", text: I + "SaveConfig = yes\n", line: 3, key: "SaveConfig"},
		{name: "dup-saveconfig", text: I + "SaveConfig = true\nSaveConfig = true\n", line: 4, key: "SaveConfig"},

		// [Peer] values.
		{name: "allowedips-trailing-comma", text: I + P + "AllowedIPs = 0.0.0.0/0,\n", line: 5, key: "AllowedIPs"},
		{name: "allowedips-incremental", text: I + P + "AllowedIPs = +198.51.100.0/24\n", line: 5, key: "AllowedIPs"},
		{name: "allowedips-prefix-129", text: I + P + "AllowedIPs = ::/129\n", line: 5, key: "AllowedIPs"},
		{name: "endpoint-no-port", text: I + P + "Endpoint = 192.0.2.1\n", line: 5, key: "Endpoint", msg: "line 5: Endpoint: missing port"},
		{name: "endpoint-empty-port", text: I + P + "Endpoint = 192.0.2.1:\n", line: 5, key: "Endpoint", msg: "line 5: Endpoint: missing port"},
		{name: "endpoint-bare-v6", text: I + P + "Endpoint = 2001:db8::1:51820\n", line: 5, key: "Endpoint"},
		{name: "endpoint-v6-no-port", text: I + P + "Endpoint = [2001:db8::1]\n", line: 5, key: "Endpoint", msg: "line 5: Endpoint: missing port"},
		{name: "endpoint-v6-unclosed", text: I + P + "Endpoint = [2001:db8::1:51820\n", line: 5, key: "Endpoint"},
		{name: "endpoint-v4-in-brackets", text: I + P + "Endpoint = [192.0.2.1]:1\n", line: 5, key: "Endpoint"},
		{name: "endpoint-port-zero", text: I + P + "Endpoint = 192.0.2.1:0\n", line: 5, key: "Endpoint"},
		{name: "endpoint-port-big", text: I + P + "Endpoint = 192.0.2.1:65536\n", line: 5, key: "Endpoint"},
		{name: "endpoint-bad-host", text: I + P + "Endpoint = bad_host!:1\n", line: 5, key: "Endpoint"},
		{name: "endpoint-octal-ipv4", text: I + P + "Endpoint = 010.0.0.1:51820\n", line: 5, key: "Endpoint"},
		{name: "endpoint-no-host", text: I + P + "Endpoint = :51820\n", line: 5, key: "Endpoint"},
		{name: "endpoint-inner-space", text: I + P + "Endpoint = vpn.example.com :51820\n", line: 5, key: "Endpoint"},
		{name: "keepalive-big", text: I + P + "PersistentKeepalive = 65536\n", line: 5, key: "PersistentKeepalive"},
		{name: "keepalive-word", text: I + P + "PersistentKeepalive = often\n", line: 5, key: "PersistentKeepalive"},
	}
}

// TestParseBad checks that each broken config is refused with an error
// naming the right line and key.
func TestParseBad(t *testing.T) {
	cases := badCases()
	if len(cases) < 25 {
		t.Fatalf("only %d broken configs", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.text))
			if err == nil {
				t.Fatalf("accepted: %v", cfg)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v (%T), want a *ParseError", err, err)
			}
			if pe.Line != c.line || pe.Key != c.key {
				t.Errorf("error %q names line %d key %q, want line %d key %q", err, pe.Line, pe.Key, c.line, c.key)
			}
			if c.msg != "" && err.Error() != c.msg {
				t.Errorf("error %q, want %q", err, c.msg)
			}
		})
	}
}

// TestParseErrorWraps checks that a ParseError is found through wrapping,
// as the D-Bus layer does.
func TestParseErrorWraps(t *testing.T) {
	_, err := Parse([]byte("[Interface]\nMTU = 1\n"))
	wrapped := errors.Join(errors.New("import wg0"), err)
	var pe *ParseError
	if !errors.As(wrapped, &pe) || pe.Line != 2 || pe.Key != "MTU" {
		t.Fatalf("errors.As(%v) = %+v", wrapped, pe)
	}
}
