package config

import (
	"encoding/base64"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// keyEncoding decodes keys as strictly as wg(8): standard alphabet, '='
// padding, and no stray bits in the last character, so a key that wg would
// refuse is refused here first.
var keyEncoding = base64.StdEncoding.Strict()

// parseKey reads a WireGuard key: 44 characters of base64 for 32 bytes.
func parseKey(v string) (wgtypes.Key, problem) {
	// Go's decoder skips '\r' and '\n', and wg does not; checking the
	// alphabet first also keeps the length check meaningful.
	if len(v) != base64.StdEncoding.EncodedLen(wgtypes.KeyLen) || v[len(v)-1] != '=' {
		return wgtypes.Key{}, "not a key: want 44 characters of base64 ending in '='"
	}
	for i := 0; i < len(v)-1; i++ {
		if !isBase64(v[i]) {
			return wgtypes.Key{}, "not a key: want 44 characters of base64 ending in '='"
		}
	}
	var k wgtypes.Key
	if n, err := keyEncoding.Decode(k[:], []byte(v)); err != nil || n != wgtypes.KeyLen {
		return wgtypes.Key{}, "not a key: the base64 does not decode to 32 bytes"
	}
	return k, ""
}

func isBase64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}
