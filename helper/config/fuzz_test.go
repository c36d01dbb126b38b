package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

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

// FuzzParse: Parse never panics; what it accepts strips to text it
// accepts again; an error never quotes a base64 key from the input.
func FuzzParse(f *testing.F) {
	for _, b := range seedConfigs(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			msg := err.Error()
			if !utf8.ValidString(msg) && utf8.Valid(data) {
				t.Errorf("error is not UTF-8: %q", msg)
			}
			for _, field := range strings.FieldsFunc(string(data), func(r rune) bool { return r == ' ' || r == '=' || r == '\n' || r == ',' }) {
				if len(field) >= 40 && strings.Contains(msg, field) {
					t.Errorf("error %q quotes a long token from the input", msg)
				}
			}
			return
		}
		strip := cfg.WGQuickStrip()
		if _, err := Parse([]byte(strip)); err != nil {
			t.Errorf("stripped config does not parse again: %v\n%s", err, strip)
		}
		_ = Redact(data)
	})
}

func TestSeedsParse(t *testing.T) {
	for name, b := range seedConfigs(t) {
		if _, err := Parse(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
