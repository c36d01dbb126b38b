package daemon

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Polkit actions.
const (
	ActionConnect = "org.wgtray.connect" // Connect, Disconnect
	ActionManage  = "org.wgtray.manage"  // Import, Remove, GetConfig
	// ActionManageScripts is asked in addition to the others by the Import
	// of a config with PreUp/PostUp/PreDown/PostDown hooks and the Connect
	// of a stored one: hooks run as root, so the right to run them is not
	// part of any group's rights but an administrator's, every time.
	ActionManageScripts = "org.wgtray.manage-scripts"
)

// Authorizer decides whether the bus client sender may perform action.
// Any error on the way means no.
type Authorizer interface {
	Authorize(ctx context.Context, sender string, action string, interactive bool) error
}

// errDenied is the cause inside every refusal; its text reaches the caller.
var errDenied = fmt.Errorf("not authorized")

// Polkit authorizes through polkitd on the same bus: root is always
// allowed, anyone else is asked about by bus name — never by PID, which
// could be recycled between the check and the call.
type Polkit struct {
	Conn *dbus.Conn
}

const (
	polkitName  = "org.freedesktop.PolicyKit1"
	polkitPath  = "/org/freedesktop/PolicyKit1/Authority"
	polkitCheck = "org.freedesktop.PolicyKit1.Authority.CheckAuthorization"
	// allowUserInteraction lets polkit ask the user for a password through
	// their authentication agent.
	allowUserInteraction = uint32(1)
)

type polkitSubject struct {
	Kind    string
	Details map[string]dbus.Variant
}

type polkitResult struct {
	IsAuthorized bool
	IsChallenge  bool
	Details      map[string]string
}

// Authorize implements Authorizer.
func (p Polkit) Authorize(ctx context.Context, sender string, action string, interactive bool) error {
	var uid uint32
	err := p.Conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, sender).Store(&uid)
	if err != nil {
		return fmt.Errorf("%w: cannot identify caller %q: %v", errDenied, sender, err)
	}
	if uid == 0 {
		return nil
	}
	subject := polkitSubject{Kind: "system-bus-name", Details: map[string]dbus.Variant{"name": dbus.MakeVariant(sender)}}
	var flags uint32
	if interactive {
		flags = allowUserInteraction
	}
	var res polkitResult
	err = p.Conn.Object(polkitName, polkitPath).CallWithContext(ctx, polkitCheck, 0,
		subject, action, map[string]string{}, flags, "").Store(&res)
	if err != nil {
		return fmt.Errorf("%w: polkit: %v", errDenied, err)
	}
	if !res.IsAuthorized {
		return fmt.Errorf("%w for %s (uid %d)", errDenied, action, uid)
	}
	return nil
}
