package ipc

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/privbus"
)

// errorTable is the contract: every sentinel and its D-Bus name.
var errorTable = []struct {
	sentinel error
	name     string
}{
	{ErrNotFound, "org.wgtray.Helper1.Error.NotFound"},
	{ErrInvalidName, "org.wgtray.Helper1.Error.InvalidName"},
	{ErrInvalidConfig, "org.wgtray.Helper1.Error.InvalidConfig"},
	{ErrExists, "org.wgtray.Helper1.Error.Exists"},
	{ErrScriptsDisabled, "org.wgtray.Helper1.Error.ScriptsDisabled"},
	{ErrFailed, "org.wgtray.Helper1.Error.Failed"},
	{ErrAccessDenied, "org.freedesktop.DBus.Error.AccessDenied"},
	{ErrInvalidArgs, "org.freedesktop.DBus.Error.InvalidArgs"},
	{ErrLimitsExceeded, "org.freedesktop.DBus.Error.LimitsExceeded"},
}

func TestToDBus(t *testing.T) {
	if len(errorTable) != len(errorNames) {
		t.Fatalf("the table has %d errors, the package %d", len(errorTable), len(errorNames))
	}
	for _, tc := range errorTable {
		t.Run(tc.name, func(t *testing.T) {
			err := fmt.Errorf("connect %q: %w", "wg0", fmt.Errorf("%w: details", tc.sentinel))
			de := ToDBus(err)
			if de.Name != tc.name {
				t.Errorf("name %s, want %s", de.Name, tc.name)
			}
			if len(de.Body) != 1 || de.Body[0] != err.Error() {
				t.Errorf("body %#v, want the message %q", de.Body, err.Error())
			}
		})
	}
	t.Run("no sentinel", func(t *testing.T) {
		de := ToDBus(errors.New("disk full"))
		if de.Name != ErrorFailed || de.Error() != "disk full" {
			t.Errorf("got %s %q, want Failed with the message", de.Name, de.Error())
		}
	})
	t.Run("two sentinels", func(t *testing.T) {
		err := fmt.Errorf("%w: %w", ErrFailed, ErrAccessDenied)
		if de := ToDBus(err); de.Name != ErrorAccessDenied {
			t.Errorf("got %s, want AccessDenied to win over Failed", de.Name)
		}
	})
	t.Run("already D-Bus", func(t *testing.T) {
		in := dbus.NewError("org.example.Custom", []any{"x"})
		if out := ToDBus(in); out != in {
			t.Errorf("got %v, want the same *dbus.Error", out)
		}
	})
	t.Run("nil", func(t *testing.T) {
		if ToDBus(nil) != nil {
			t.Error("ToDBus(nil) != nil")
		}
	})
}

func TestFromDBus(t *testing.T) {
	for _, tc := range errorTable {
		t.Run(tc.name, func(t *testing.T) {
			const msg = `no tunnel "wg0"`
			// A call's Err is a dbus.Error value; ToDBus gives a pointer.
			for _, in := range []error{dbus.Error{Name: tc.name, Body: []any{msg}}, dbus.NewError(tc.name, []any{msg})} {
				err := FromDBus(in)
				if !errors.Is(err, tc.sentinel) {
					t.Errorf("FromDBus(%T) is not %v", in, tc.sentinel)
				}
				if err.Error() != msg {
					t.Errorf("message %q, want %q", err.Error(), msg)
				}
				for _, other := range errorTable {
					if other.sentinel != tc.sentinel && errors.Is(err, other.sentinel) {
						t.Errorf("also matches %v", other.sentinel)
					}
				}
				var e *Error
				if !errors.As(err, &e) || e.Name != tc.name {
					t.Errorf("errors.As *Error: %#v", e)
				}
			}
		})
	}
	t.Run("unknown name", func(t *testing.T) {
		err := FromDBus(dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"not activatable"}})
		var e *Error
		if !errors.As(err, &e) || e.Name != "org.freedesktop.DBus.Error.ServiceUnknown" || err.Error() != "not activatable" {
			t.Errorf("got %#v", err)
		}
		for _, tc := range errorTable {
			if errors.Is(err, tc.sentinel) {
				t.Errorf("matches %v", tc.sentinel)
			}
		}
	})
	t.Run("no message", func(t *testing.T) {
		if err := FromDBus(dbus.Error{Name: ErrorFailed}); err.Error() != ErrorFailed || !errors.Is(err, ErrFailed) {
			t.Errorf("got %q", err)
		}
	})
	t.Run("not D-Bus", func(t *testing.T) {
		wrapped := fmt.Errorf("call: %w", context.Canceled)
		if FromDBus(wrapped) != wrapped {
			t.Error("a non-D-Bus error was changed")
		}
		if FromDBus(nil) != nil {
			t.Error("FromDBus(nil) != nil")
		}
	})
}

// TestErrorsOverTheBus sends every sentinel through a real bus: the
// helper's ToDBus on one side, the client's FromDBus on the other.
func TestErrorsOverTheBus(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	c := NewClient(privbus.Connect(t, addr))
	ctx := t.Context()
	for _, tc := range errorTable {
		t.Run(tc.name, func(t *testing.T) {
			want := fmt.Errorf("%w: tunnel %q: line 3: Address: not an IP prefix", tc.sentinel, "bad")
			f.set(func(f *fakeHelper) { f.errs["bad"] = want })
			calls := map[string]func() error{
				"Status":     func() error { _, err := c.Status(ctx, "bad"); return err },
				"Connect":    func() error { return c.Connect(ctx, "bad") },
				"Disconnect": func() error { return c.Disconnect(ctx, "bad") },
				"Import":     func() error { return c.Import(ctx, "bad", "[Interface]\n") },
				"Remove":     func() error { return c.Remove(ctx, "bad") },
				"GetConfig":  func() error { _, err := c.GetConfig(ctx, "bad"); return err },
			}
			for method, do := range calls {
				err := do()
				if !errors.Is(err, tc.sentinel) || err.Error() != want.Error() {
					t.Errorf("%s: got %v, want %q matching the sentinel", method, err, want)
				}
			}
		})
	}
}
