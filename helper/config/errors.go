package config

import (
	"fmt"
	"regexp"
)

// ParseError is a problem with a config. It names the line and the key but
// never quotes a value, so that no key material can leak through it.
type ParseError struct {
	Line int    // 1-based; 0 for the whole input
	Key  string // the key as written, when it is safe to show
	Msg  string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line == 0:
		return e.Msg
	case e.Key == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
}

// safeKeyName matches key names that are shown in messages. A longer or
// odder "key" may be a pasted base64 key ending in '=', which would
// otherwise be echoed.
var safeKeyName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,23}$`)

func errAt(line int, key, format string, args ...any) *ParseError {
	return &ParseError{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}
