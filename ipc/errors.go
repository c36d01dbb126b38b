package ipc

import (
	"errors"

	"github.com/godbus/dbus/v5"
)

// The D-Bus error names the helper replies with.
const (
	ErrorNotFound        = Interface + ".Error.NotFound"
	ErrorInvalidName     = Interface + ".Error.InvalidName"
	ErrorInvalidConfig   = Interface + ".Error.InvalidConfig"
	ErrorExists          = Interface + ".Error.Exists"
	ErrorScriptsDisabled = Interface + ".Error.ScriptsDisabled"
	ErrorFailed          = Interface + ".Error.Failed"
	ErrorAccessDenied    = "org.freedesktop.DBus.Error.AccessDenied"
	ErrorInvalidArgs     = "org.freedesktop.DBus.Error.InvalidArgs"
	ErrorLimitsExceeded  = "org.freedesktop.DBus.Error.LimitsExceeded"
)

// Sentinel errors, each mapped 1:1 to a D-Bus error name. The helper wraps
// them with a message and replies with ToDBus; clients get them back from
// FromDBus and test them with errors.Is.
var (
	ErrNotFound        = errors.New("no such tunnel")
	ErrInvalidName     = errors.New("invalid tunnel name")
	ErrInvalidConfig   = errors.New("invalid config")
	ErrExists          = errors.New("the name is in use")
	ErrScriptsDisabled = errors.New("script hooks are disabled")
	ErrFailed          = errors.New("failed")
	ErrAccessDenied    = errors.New("not authorized")
	ErrInvalidArgs     = errors.New("invalid arguments")
	// ErrLimitsExceeded refuses a call while the same caller already has
	// as many calls in progress as the helper allows one caller; it is
	// worth retrying once one of them has answered.
	ErrLimitsExceeded = errors.New("too many calls in progress")
)

// errorNames pairs each sentinel with its name. The order matters to
// ToDBus: when an error's chain holds more than one sentinel, the first
// listed wins, so a refusal is never reported as a mere failure.
var errorNames = []struct {
	sentinel error
	name     string
}{
	{ErrAccessDenied, ErrorAccessDenied},
	{ErrInvalidArgs, ErrorInvalidArgs},
	{ErrLimitsExceeded, ErrorLimitsExceeded},
	{ErrInvalidName, ErrorInvalidName},
	{ErrNotFound, ErrorNotFound},
	{ErrInvalidConfig, ErrorInvalidConfig},
	{ErrExists, ErrorExists},
	{ErrScriptsDisabled, ErrorScriptsDisabled},
	{ErrFailed, ErrorFailed},
}

// ToDBus turns a helper error into the D-Bus error its caller receives:
// the name of the sentinel in its chain, or ErrorFailed when there is
// none, and err.Error() as the message. The message is kept even without
// a sentinel because the helper's errors are written for the person at
// the client and never carry key material (config errors name lines and
// keys, not values). An error that already is a *dbus.Error passes
// through. ToDBus(nil) is nil, so a method can return it directly.
func ToDBus(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	if de, ok := err.(*dbus.Error); ok {
		return de
	}
	name := ErrorFailed
	for _, e := range errorNames {
		if errors.Is(err, e.sentinel) {
			name = e.name
			break
		}
	}
	return dbus.NewError(name, []any{err.Error()})
}

// Error is an error reply from the helper as a client sees it. Error()
// is the helper's message; errors.Is matches the sentinel of its name,
// if the name is one of the contract's.
type Error struct {
	Name    string // the D-Bus error name
	Message string // the helper's message
	kind    error
}

// Error returns the helper's message, or the error name if it sent none.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Message
}

// Is reports whether target is the sentinel of e's name.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// FromDBus turns the error of a call into an *Error that errors.Is the
// sentinel of its name and carries the helper's message. A D-Bus error
// with another name (the bus's own ServiceUnknown, NoReply, …) becomes an
// *Error matching no sentinel; an error that is not a D-Bus error (a
// closed connection, a cancelled context) is returned unchanged, as is
// nil.
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
	out := &Error{Name: de.Name}
	if len(de.Body) > 0 {
		out.Message, _ = de.Body[0].(string)
	}
	for _, e := range errorNames {
		if e.name == de.Name {
			out.kind = e.sentinel
			break
		}
	}
	return out
}
