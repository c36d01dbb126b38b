package sysbus

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// PolkitSubject is polkit's subject structure, (sa{sv}).
type PolkitSubject struct {
	Kind    string
	Details map[string]dbus.Variant
}

// PolkitResult is CheckAuthorization's reply, (bba{ss}).
type PolkitResult struct {
	Authorized bool
	Challenge  bool
	Details    map[string]string
}

// String gives the two flags, as the child program prints them.
func (r PolkitResult) String() string {
	return fmt.Sprintf("authorized=%t challenge=%t", r.Authorized, r.Challenge)
}

// CheckAuthorization asks polkitd on conn whether subject may perform
// action, without interaction: the tests have no authentication agent.
func CheckAuthorization(conn *dbus.Conn, subject PolkitSubject, action string) (PolkitResult, error) {
	var res PolkitResult
	err := conn.Object(polkitName, "/org/freedesktop/PolicyKit1/Authority").Call(
		"org.freedesktop.PolicyKit1.Authority.CheckAuthorization", 0,
		subject, action, map[string]string{}, uint32(0), "").Store(&res)
	return res, err
}

// BusNameSubject is the subject the helper asks about: the caller's
// unique bus name.
func BusNameSubject(name string) PolkitSubject {
	return PolkitSubject{Kind: "system-bus-name", Details: map[string]dbus.Variant{"name": dbus.MakeVariant(name)}}
}
