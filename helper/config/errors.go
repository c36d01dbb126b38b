package config

import (
	"fmt"
	"regexp"
)

// ParseError is a problem with a config. It names the line and the key but
// never quotes a value, so that no key material can leak through it into
// logs, D-Bus replies or bug reports. Use errors.As to inspect it.
type ParseError struct {
	Line int    // 1-based; 0 for a problem with the whole input
	Key  string // the key as written, when it is safe to show; else ""
	Msg  string // what is wrong, in words; never contains a value
}

// Error formats the error as "line 7: Endpoint: missing port".
func (e *ParseError) Error() string {
	switch {
	case e.Line == 0:
		return e.Msg
	case e.Key == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
}

// problem is the text of a ParseError. It is a distinct type so that value
// parsers can only hand back fixed wording: building one from a value
// would need an explicit conversion, which stands out in review.
type problem string

func errAt(line int, key string, p problem) *ParseError {
	return &ParseError{Line: line, Key: key, Msg: string(p)}
}

// safeKeyName matches key names that may be shown in messages. A longer or
// odder "key" may be a pasted base64 key ending in '=', which would
// otherwise be echoed.
var safeKeyName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,23}$`)

// shownKey is the key to name in a message about a line, or "" when naming
// it could leak a secret. Known key names are always safe. An unknown name
// is shown only if it looks like a key name and the line has a value: the
// tail of a base64 key wrapped onto its own line reads as "Tail=" with an
// empty value, and its alphanumeric tail would pass the name pattern.
func shownKey(key, value string) string {
	if _, known := lookupKey(key); known {
		return key
	}
	if value != "" && safeKeyName.MatchString(key) {
		return key
	}
	return ""
}
