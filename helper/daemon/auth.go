package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"

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
// could be recycled between the check and the call. Use a pointer: it
// keeps the callers' uids.
type Polkit struct {
	Conn *dbus.Conn

	mu sync.Mutex
	// uids are the uids of the unique bus names that called: the bus
	// never gives a unique name to a second connection, and a
	// connection's uid is fixed when it authenticates, so the answer of
	// GetConnectionUnixUser never changes. Kept, it spares each call of
	// a client after its first a round trip to the bus. At most
	// maxCachedUIDs; when full it starts over.
	uids map[string]uint32
}

// maxCachedUIDs bounds Polkit's uids: the tray and a command line or
// two are all the callers a desktop has.
const maxCachedUIDs = 64

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
func (p *Polkit) Authorize(ctx context.Context, sender string, action string, interactive bool) error {
	uid, err := p.uid(ctx, sender)
	if err != nil {
		return err
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

// uid returns the uid of the unique bus name sender, asking the bus the
// first time.
func (p *Polkit) uid(ctx context.Context, sender string) (uint32, error) {
	// Only unique names (":1.42") are kept: a well-known name could
	// change hands. The bus sets the sender field to the unique name.
	unique := strings.HasPrefix(sender, ":")
	if unique {
		p.mu.Lock()
		uid, ok := p.uids[sender]
		p.mu.Unlock()
		if ok {
			return uid, nil
		}
	}
	var uid uint32
	err := p.Conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, sender).Store(&uid)
	if err != nil {
		return 0, fmt.Errorf("%w: cannot identify caller %q: %v", errDenied, sender, err)
	}
	if unique {
		p.mu.Lock()
		if p.uids == nil || len(p.uids) >= maxCachedUIDs {
			p.uids = map[string]uint32{}
		}
		p.uids[sender] = uid
		p.mu.Unlock()
	}
	return uid, nil
}
