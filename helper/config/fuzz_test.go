package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks, for any input: Parse never panics; an error is a
// *ParseError that quotes no key from the input and names only a key that
// really is the key of the line it names; and an accepted config strips
// to canonical text that parses back to the same wg settings, has keys
// only on key lines, and redacts to text without its secrets.
func FuzzParse(f *testing.F) {
	seeds := seedConfigs(f)
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f.Add(seeds[name])
	}
	for _, c := range badCases() {
		// A seed near ipc.MaxConfigSize makes every new input found from it slow
		// to minimise, which stalls the fuzzer for minutes.
		if len(c.text) < 4096 {
			f.Add([]byte(c.text))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Go minimises each new interesting input in O(n²) runs, which for
		// inputs of several KiB stalls fuzzing for the whole of
		// -fuzzminimizetime. The seeds are smaller, and the size
		// limit itself is covered by TestParseBad.
		if len(data) > maxFuzzLen {
			return
		}
		redacted := Redact(data)
		cfg, err := Parse(data)
		if err != nil {
			checkSafeError(t, data, err)
			return
		}
		checkStrip(t, cfg)
		secrets := []string{cfg.Interface.PrivateKey.String()}
		for _, p := range cfg.Peers {
			if p.PresharedKey != nil {
				secrets = append(secrets, p.PresharedKey.String())
			}
		}
		for _, s := range secrets {
			if strings.Contains(redacted, s) {
				t.Errorf("Redact left a secret key in:\n%s", redacted)
			}
		}
		printed := fmt.Sprintf("%v %+v %#v %s %d %x", cfg, *cfg, cfg.Interface, cfg.Interface, cfg.Peers, cfg.Peers)
		for _, k := range keyTokens(data) {
			if strings.Contains(printed, k) {
				t.Errorf("formatting the config printed a key: %s", printed)
			}
		}
	})
}

// maxFuzzLen is the largest input FuzzParse looks at.
const maxFuzzLen = 1024

// checkSafeError checks the promises an error makes about leaks.
func checkSafeError(t testing.TB, data []byte, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse error %v (%T) is not a *ParseError", err, err)
	}
	msg := err.Error()
	if !utf8.ValidString(msg) {
		t.Errorf("error is not UTF-8: %q", msg)
	}
	for _, k := range keyTokens(data) {
		if strings.Contains(msg, k) {
			t.Errorf("error %q quotes a key from the input", msg)
		}
	}
	if pe.Key == "" {
		return
	}
	// A named key must be the key of the named line, and either a key
	// of the format or followed by a value (see shownKey).
	lines := strings.Split(string(data), "\n")
	if pe.Line < 1 || pe.Line > len(lines) {
		t.Fatalf("error %q names line %d of %d", msg, pe.Line, len(lines))
	}
	code, _, _ := strings.Cut(strings.TrimSuffix(lines[pe.Line-1], "\r"), "#")
	key, value, _ := strings.Cut(code, "=")
	key = strings.TrimPrefix(trim(key), "\uFEFF")
	if key != pe.Key || !safeKeyName.MatchString(key) {
		t.Errorf("error %q names key %q, but the line's key is %q", msg, pe.Key, key)
	}
	if _, known := lookupKey(key); !known && trim(value) == "" {
		t.Errorf("error %q names unknown key %q of a line without a value", msg, key)
	}
}

// checkStrip checks WGQuickStrip on an accepted config.
func checkStrip(t testing.TB, cfg *Config) {
	t.Helper()
	strip := cfg.WGQuickStrip()
	if !strings.HasPrefix(strip, "[Interface]\nPrivateKey = ") {
		t.Fatalf("stripped config does not start with its private key:\n%s", strip)
	}
	keyLines := map[string]bool{"PrivateKey = " + cfg.Interface.PrivateKey.String(): true}
	keys := []string{cfg.Interface.PrivateKey.String()}
	for _, p := range cfg.Peers {
		keyLines["PublicKey = "+p.PublicKey.String()] = true
		keys = append(keys, p.PublicKey.String())
		if p.PresharedKey != nil {
			keyLines["PresharedKey = "+p.PresharedKey.String()] = true
			keys = append(keys, p.PresharedKey.String())
		}
	}
	for _, l := range strings.Split(strip, "\n") {
		for _, k := range keys {
			if strings.Contains(l, k) && !keyLines[l] {
				t.Errorf("stripped config has a key outside a key line: %q", l)
			}
		}
	}
	back, err := Parse([]byte(strip))
	if err != nil {
		t.Fatalf("stripped config does not parse again: %v\n%s", err, strip)
	}
	want := *cfg
	want.Interface = Interface{PrivateKey: cfg.Interface.PrivateKey, ListenPort: cfg.Interface.ListenPort, FwMark: cfg.Interface.FwMark}
	for i := range back.Peers {
		back.Peers[i].Line = want.Peers[i].Line
	}
	// reflect.DeepEqual is much cheaper than cmp.Diff, which matters when
	// the fuzzer minimises an input; cmp only explains a difference.
	if !reflect.DeepEqual(&want, back) {
		t.Errorf("stripped config parses to other settings (-want +got)\n%s", cmp.Diff(&want, back, cmpOpts...))
	}
}

// keyTokens returns every well-formed WireGuard key written in data.
func keyTokens(data []byte) []string {
	var out []string
	s := string(data)
	for i := 43; i < len(s); i++ {
		if s[i] == '=' {
			if _, msg := parseKey(s[i-43 : i+1]); msg == "" {
				out = append(out, s[i-43:i+1])
			}
		}
	}
	return out
}
