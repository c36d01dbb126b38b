package ipc

import (
	"errors"

	"github.com/godbus/dbus/v5"
)

// Sentinel errors, each mapped 1:1 to a D-Bus error name. The helper wraps
// them with a message; clients test them with errors.Is.
var (
	ErrNotFound        = errors.New("no such tunnel")
	ErrInvalidName     = errors.New("invalid tunnel name")
	ErrInvalidConfig   = errors.New("invalid config")
	ErrExists          = errors.New("a tunnel of that name exists")
	ErrScriptsDisabled = errors.New("script hooks are disabled")
	ErrFailed          = errors.New("failed")
	ErrAccessDenied    = errors.New("not authorized")
	ErrInvalidArgs     = errors.New("invalid arguments")
)

// ErrorNames maps each sentinel to its D-Bus error name.
var ErrorNames = map[error]string{
	ErrNotFound:        Interface + ".Error.NotFound",
	ErrInvalidName:     Interface + ".Error.InvalidName",
	ErrInvalidConfig:   Interface + ".Error.InvalidConfig",
	ErrExists:          Interface + ".Error.Exists",
	ErrScriptsDisabled: Interface + ".Error.ScriptsDisabled",
	ErrFailed:          Interface + ".Error.Failed",
	ErrAccessDenied:    "org.freedesktop.DBus.Error.AccessDenied",
	ErrInvalidArgs:     "org.freedesktop.DBus.Error.InvalidArgs",
}

// sentinels lists them in a fixed order: the first one in an error's chain
// decides its name.
var sentinels = []error{ErrAccessDenied, ErrInvalidArgs, ErrInvalidName, ErrNotFound, ErrInvalidConfig, ErrExists, ErrScriptsDisabled, ErrFailed}

// ToDBus turns a helper error into the D-Bus error clients receive: the
// name of the sentinel in its chain (Failed when there is none) and its
// message.
func ToDBus(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	name := ErrorNames[ErrFailed]
	for _, s := range sentinels {
		if errors.Is(err, s) {
			name = ErrorNames[s]
			break
		}
	}
	return dbus.NewError(name, []any{err.Error()})
}

// Error is an error returned by the helper, as a client sees it.
type Error struct {
	Name    string // the D-Bus error name
	Message string
	kind    error
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) and the like work.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// FromDBus turns an error from a call into one that errors.Is the
// matching sentinel, with the helper's message. Other errors pass through.
func FromDBus(err error) error {
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(err, &dep):
		de = *dep
	case errors.As(err, &de):
	default:
		return err
	}
	msg := de.Error()
	for s, name := range ErrorNames {
		if name == de.Name {
			return &Error{Name: de.Name, Message: msg, kind: s}
		}
	}
	return &Error{Name: de.Name, Message: msg}
}
