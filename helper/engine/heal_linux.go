package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
)

// Resolve resolves each peer's endpoint again, as a heal does for a
// stalled tunnel, after a resume from suspend and after a network change:
// a dynamic-DNS name may point elsewhere now. It returns the endpoints
// by peer key, and the errors of those it could not resolve.
func (l *Linux) Resolve(ctx context.Context, cfg *config.Config) (map[wgtypes.Key]netip.AddrPort, error) {
	out := map[wgtypes.Key]netip.AddrPort{}
	var errs []error
	for _, p := range cfg.Peers {
		if p.Endpoint == nil {
			continue
		}
		ap, err := l.resolve(ctx, *p.Endpoint)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[wgtypes.Key(p.PublicKey)] = ap
	}
	return out, errors.Join(errs...)
}

// SetEndpoints sets the endpoints again, which makes an embedded device
// handshake at once, and for a config without MTU (auto) checks wg-quick's
// MTU rule again, setting the link's MTU if the path's changed. mark is
// the tunnel's fwmark (0 for none), so that the route to an endpoint is
// looked up as WireGuard's own packets go, not into the tunnel. It
// changes only the device and the link's MTU, both of which go with the
// link: nothing to journal.
func (l *Linux) SetEndpoints(link string, eps map[wgtypes.Key]netip.AddrPort, autoMTU bool, mark uint32) error {
	var errs []error
	for k, ap := range eps {
		if err := l.devices.SetEndpoint(link, k, ap); err != nil {
			errs = append(errs, err)
		}
	}
	if autoMTU {
		if err := l.recheckMTU(link, mark); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recheckMTU applies wg-quick's rule (the largest MTU of the routes to
// the endpoints, less 80) again, with the routes as they are now.
func (l *Linux) recheckMTU(link string, mark uint32) error {
	cur, err := l.link(link)
	if err != nil {
		return err
	}
	dev, err := l.devices.Device(link)
	if err != nil {
		return fmt.Errorf("read WireGuard device %q: %w", link, err)
	}
	best := 0
	for _, p := range dev.Peers {
		if p.Endpoint == nil {
			continue
		}
		routes, err := l.nl.RouteGetWithOptions(p.Endpoint.IP, &netlink.RouteGetOptions{Mark: mark})
		if err != nil || len(routes) == 0 || routes[0].LinkIndex == cur.Attrs().Index {
			continue
		}
		m := routes[0].MTU
		if m == 0 {
			if dev, err := l.nl.LinkByIndex(routes[0].LinkIndex); err == nil {
				m = dev.Attrs().MTU
			}
		}
		best = max(best, m)
	}
	if best == 0 {
		return nil // nothing known: keep what the connect chose
	}
	want := best - 80
	if cur.Attrs().MTU == want {
		return nil
	}
	l.logger.Printf("%q: the path MTU changed: MTU %d, was %d", link, want, cur.Attrs().MTU)
	if err := l.nl.LinkSetMTU(cur, want); err != nil {
		return fmt.Errorf("set MTU of %q to %d: %w", link, want, err)
	}
	return nil
}
