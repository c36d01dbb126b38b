package enginetest

import (
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// FullConfig is a dual-stack full tunnel with DNS (a server and a search
// domain) whose endpoint is the host name vpn.example, for tests that
// bring tunnels up over the fake (SetHost makes the name resolve).
func FullConfig(priv wgtypes.Key, peer wgtypes.Key) string {
	return fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = 203.0.113.2/24, 2001:db8:8::2/64
DNS = 203.0.113.1, corp.example

[Peer]
PublicKey = %s
Endpoint = vpn.example:51820
AllowedIPs = 0.0.0.0/0, ::/0
`, priv, peer)
}

// Full4Config is an IPv4-only full tunnel, which the leak guard completes
// by blocking IPv6.
func Full4Config(priv wgtypes.Key, peer wgtypes.Key) string {
	return fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = 198.51.100.2/32

[Peer]
PublicKey = %s
Endpoint = 192.0.2.9:51820
AllowedIPs = 0.0.0.0/0
`, priv, peer)
}
