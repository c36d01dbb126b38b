package packaging

import (
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

const (
	helperName  = "org.wgtray.Helper1"
	helperPath  = "/org/wgtray/Helper1"
	accessError = "org.freedesktop.DBus.Error.AccessDenied"
)

// fakeHelper stands in for wgtray-helper's object: the policy, not the
// helper, is under test.
type fakeHelper struct{}

// Ping answers every caller; the real helper asks polkit per call.
func (fakeHelper) Ping() *dbus.Error { return nil }

// TestHelperBusPolicy checks packaging/dbus/org.wgtray.Helper1.conf as
// dbus-daemon enforces it: only root may own the name; members of group
// wgtray and other users alike may call its interfaces and receive its
// signals (polkit, not the bus, decides what they may change); everything
// else sent to it is denied.
func TestHelperBusPolicy(t *testing.T) {
	b := sysbus.Start(t, sysbus.Options{NoPolkit: true})
	users := map[string]*sysbus.Child{
		"member of wgtray":    sysbus.StartChild(t, b, sysbus.NewUser(t, "wgtray")),
		"user outside wgtray": sysbus.StartChild(t, b, sysbus.NewUser(t)),
	}
	for who, c := range users {
		if got := c.Do(t, "own %s", helperName); got != accessError {
			t.Errorf("%s: RequestName(%s) = %s, want %s", who, helperName, got, accessError)
		}
	}

	root := b.Conn(t)
	reply, err := root.RequestName(helperName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("root: RequestName(%s) = %v, %v; want primary owner", helperName, reply, err)
	}
	if err := root.Export(fakeHelper{}, helperPath, helperName); err != nil {
		t.Fatal(err)
	}
	if err := root.Export(introspect.Introspectable("<node/>"), helperPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatal(err)
	}
	if _, err := prop.Export(root, helperPath, prop.Map{helperName: {
		"Version": {Value: "test", Emit: prop.EmitConst},
	}}); err != nil {
		t.Fatal(err)
	}

	calls := []struct{ call, want string }{
		{helperName + ".Ping", "ok"},
		{"org.freedesktop.DBus.Introspectable.Introspect", "ok"},
		{"org.freedesktop.DBus.Peer.Ping", "ok"},
		{"org.freedesktop.DBus.Properties.Get " + helperName + " Version", "ok"},
		{"org.freedesktop.DBus.Properties.GetAll " + helperName, "ok"},
		// No property is writable: the bus refuses Set before the helper
		// sees it.
		{"org.freedesktop.DBus.Properties.Set " + helperName + " Version", accessError},
		{"org.wgtray.Other.Ping", accessError},
	}
	for who, c := range users {
		for _, call := range calls {
			if got := c.Do(t, "call %s %s %s", helperName, helperPath, call.call); got != call.want {
				t.Errorf("%s: %s = %s, want %s", who, call.call, got, call.want)
			}
		}
		if got := c.Do(t, "watch %s", helperName); got != "ok" {
			t.Fatalf("%s: AddMatch: %s", who, got)
		}
	}
	if err := root.Emit(helperPath, helperName+".StateChanged", "demo"); err != nil {
		t.Fatal(err)
	}
	for who, c := range users {
		if got := c.Do(t, "signal"); got != helperName+".StateChanged" {
			t.Errorf("%s: got signal %s, want %s.StateChanged", who, got, helperName)
		}
	}
}
