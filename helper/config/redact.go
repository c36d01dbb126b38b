package config

import (
	"strings"
	"unicode"
)

// hidden replaces secret values in Redact's output.
const hidden = "(hidden)"

// Redact returns the config text with the values of PrivateKey and
// PresharedKey replaced by "(hidden)", keeping everything else byte for
// byte so that a user sees their own file. Key names are matched ignoring
// case and white space, so that anything wg(8) would read as a secret key
// line is hidden even if Parse would refuse it. Two cases go beyond the
// key lines, because a secret shown is a secret lost: a commented-out
// "# PrivateKey = …" line is hidden too, and any other copy of a secret
// key found on those lines (say, in a PostUp command) is hidden as well.
func Redact(data []byte) string {
	lines := strings.Split(string(data), "\n")
	var secrets []string
	for i, l := range lines {
		if !strings.Contains(l, "=") {
			continue
		}
		// A secret never contains '#', so each '#'-separated piece of a
		// line can be looked at on its own; that also covers comments.
		pieces := strings.Split(l, "#")
		for j, piece := range pieces {
			var secret string
			pieces[j], secret = redactAssignment(piece)
			if _, msg := parseKey(secret); secret != "" && msg == "" {
				secrets = append(secrets, secret)
			}
		}
		lines[i] = strings.Join(pieces, "#")
	}
	out := strings.Join(lines, "\n")
	for _, s := range secrets {
		out = strings.ReplaceAll(out, s, hidden)
	}
	return out
}

// redactAssignment hides the value of s if s is "PrivateKey = value" or
// "PresharedKey = value", keeping the spacing around the value. It also
// returns the value it hid.
func redactAssignment(s string) (string, string) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return s, ""
	}
	key = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, key)
	if !strings.EqualFold(key, "privatekey") && !strings.EqualFold(key, "presharedkey") {
		return s, ""
	}
	secret := strings.TrimFunc(value, unicode.IsSpace)
	if secret == "" {
		return s, ""
	}
	lead := len(value) - len(strings.TrimLeftFunc(value, unicode.IsSpace))
	start := len(s) - len(value) + lead
	end := start + len(secret)
	return s[:start] + hidden + s[end:], secret
}
