package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Test keys, generated with wgtypes for these tests only.
const (
	priv    = "KBHycQI/8A0oIvHEPWzRkdhDSNpcpQVDcP1gxi3a7Xc="
	selfPub = "4cKIn4P/xiY1dj0y4bHSLrTVpNSr3ISJToAI95H3H1c=" // priv's public key
	pub1    = "fW4n+7R0ViYAZZDKWcoKHXOQ3DQPl+E41khI9ExU7D8="
	pub2    = "3def/jhqj78iMV5AScR0vo3vYsqkTz6lzzQiNep4528="
	pub3    = "NQ3UbEzn/n+EmLit3lA7qg3tGUFEsnHiJ152oParYB4="
	psk     = "8JreZZruPh8Ao3eCoa6PwGLnYjYN5eXbNOIWe+K79n0="
	psk2    = "+Il1M9LPJaJvmatPtwOzxgKvnZPkl1jgM8V7flSUwXo="
	zeroKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)

// testKeys are all the keys above that carry material.
var testKeys = []string{priv, selfPub, pub1, pub2, pub3, psk, psk2}

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

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

// cmpOpts compare netip values by value and wgtypes keys as arrays.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// seedConfigs returns the seed corpus: realistic configs in testdata.
func seedConfigs(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(paths) < 8 {
		tb.Fatalf("want at least 8 seed configs in testdata, found %d (%v)", len(paths), err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}
