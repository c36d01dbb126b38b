package dns

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/plan"
)

const (
	resolvedName  = "org.freedesktop.resolve1"
	resolvedPath  = "/org/freedesktop/resolve1"
	resolvedIface = "org.freedesktop.resolve1.Manager"
)

// resolvedRunning reports whether systemd-resolved owns its name on the
// system bus now. It is not activated: a machine whose resolved is off
// uses something else.
func (h *Host) resolvedRunning(ctx context.Context) bool {
	bus, err := h.systemBus()
	if err != nil {
		return false
	}
	return h.nameHasOwner(ctx, bus, resolvedName)
}

type resolvedAddr struct {
	Family  int32
	Address []byte
}

type resolvedDomain struct {
	Name      string
	RouteOnly bool
}

// resolvedSet gives the link its servers and domains, and for a full
// tunnel makes it the default route for DNS.
func (h *Host) resolvedSet(ctx context.Context, link string, d *plan.DNS) error {
	idx, err := h.LinkIndex(link)
	if err != nil {
		return fmt.Errorf("systemd-resolved: %w", err)
	}
	bus, err := h.systemBus()
	if err != nil {
		return err
	}
	addrs := make([]resolvedAddr, 0, len(d.Servers))
	for _, s := range d.Servers {
		fam := int32(plan.FamilyOf(s))
		addrs = append(addrs, resolvedAddr{Family: fam, Address: s.AsSlice()})
	}
	doms := make([]resolvedDomain, 0, len(d.Domains))
	for _, dom := range d.Domains {
		doms = append(doms, resolvedDomain{Name: dom.Name, RouteOnly: dom.RouteOnly})
	}
	obj := bus.Object(resolvedName, resolvedPath)
	calls := []struct {
		method string
		arg    any
	}{
		{"SetLinkDNS", addrs},
		{"SetLinkDomains", doms},
		{"SetLinkDefaultRoute", d.Default},
	}
	for _, c := range calls {
		if err := h.resolvedCall(ctx, obj, c.method, int32(idx), c.arg); err != nil {
			return fmt.Errorf("systemd-resolved %s on %q: %w", c.method, link, err)
		}
	}
	return nil
}

// resolvedCall calls one of resolved's methods within Timeout: a hung
// resolved fails the step instead of stalling the helper.
func (h *Host) resolvedCall(ctx context.Context, obj dbus.BusObject, method string, args ...any) error {
	ctx, cancel, limit := h.withTimeout(ctx)
	defer cancel()
	if err := obj.CallWithContext(ctx, resolvedIface+"."+method, 0, args...).Err; err != nil {
		return timedOut(ctx, limit, err)
	}
	return nil
}

// resolvedRevert drops every setting of the link. A link that is gone, or
// a resolved that is gone, has nothing left to drop.
func (h *Host) resolvedRevert(ctx context.Context, link string) error {
	idx, err := h.LinkIndex(link)
	if errors.Is(err, ErrNoLink) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("systemd-resolved: %w", err)
	}
	bus, err := h.systemBus()
	if err != nil {
		return err
	}
	err = h.resolvedCall(ctx, bus.Object(resolvedName, resolvedPath), "RevertLink", int32(idx))
	var derr dbus.Error
	if errors.As(err, &derr) {
		switch derr.Name {
		case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
			"org.freedesktop.resolve1.NoSuchLink":
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("systemd-resolved RevertLink on %q: %w", link, err)
	}
	return nil
}
