// Package networkmanager tells NetworkManager, when it runs, that the
// helper's tunnel links are not its to manage.
//
// NetworkManager takes a link that another program made for an external
// connection ("connected (externally)"), and then treats it as one of its
// own: `nmcli networking off`, which suspend does too, deactivates it
// with reason "sleeping", disables its IPv6 and drops its addresses and
// routes, and waking brings back only NetworkManager's own connections.
// A device whose Managed property is false is left alone through all of
// that. The property is runtime state of NetworkManager, not config: it
// lasts as long as the device (or until NetworkManager restarts, when
// the Claimer sets it again), so nothing of it outlives the tunnel, and
// no other device or connection is touched.
package networkmanager

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// NetworkManager's D-Bus names.
const (
	BusName         = "org.freedesktop.NetworkManager"
	Path            = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	Interface       = "org.freedesktop.NetworkManager"
	DeviceInterface = "org.freedesktop.NetworkManager.Device"
	// errUnknownDevice is GetDeviceByIpIface's error for a link that
	// NetworkManager has not seen (yet).
	errUnknownDevice = "org.freedesktop.NetworkManager.UnknownDevice"
)

// DefaultTimeout bounds each exchange with NetworkManager: a hung one
// must not hold the claims of other links.
const DefaultTimeout = 5 * time.Second

// Claimer marks the helper's links unmanaged in NetworkManager: a link
// given to Claim at once, and again whenever NetworkManager (re)starts or
// adds a device for one of them. Without NetworkManager on the bus it
// does nothing.
type Claimer struct {
	conn    *dbus.Conn
	ours    func(link string) bool
	active  func() []string
	logger  *log.Logger
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]bool
	kick    chan struct{}
	sigs    chan *dbus.Signal
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start subscribes to NetworkManager's start and its new devices on conn
// and returns a Claimer. ours says whether a link is one of the helper's
// tunnels now (connecting or connected): only those are ever claimed;
// active lists the connected ones, claimed again when NetworkManager
// starts. The Claimer stops when ctx ends or Close is called.
func Start(ctx context.Context, conn *dbus.Conn, ours func(link string) bool, active func() []string, logger *log.Logger) (*Claimer, error) {
	ctx, cancel := context.WithCancel(ctx)
	c := &Claimer{conn: conn, ours: ours, active: active, logger: logger, timeout: DefaultTimeout,
		pending: map[string]bool{}, kick: make(chan struct{}, 1), sigs: make(chan *dbus.Signal, 16),
		cancel: cancel, done: make(chan struct{})}
	mctx, mcancel := context.WithTimeout(ctx, c.timeout)
	defer mcancel()
	rules := [][]dbus.MatchOption{
		{dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"),
			dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, BusName)},
		{dbus.WithMatchSender(BusName), dbus.WithMatchObjectPath(Path),
			dbus.WithMatchInterface(Interface), dbus.WithMatchMember("DeviceAdded")},
	}
	for _, r := range rules {
		if err := conn.AddMatchSignalContext(mctx, r...); err != nil {
			cancel()
			return nil, fmt.Errorf("watch NetworkManager: %w", err)
		}
	}
	conn.Signal(c.sigs)
	go c.run(ctx)
	return c, nil
}

// Close stops the Claimer and waits for it.
func (c *Claimer) Close() {
	c.cancel()
	<-c.done
}

// Claim asks for link to be marked unmanaged. It does not wait: the
// exchange with NetworkManager happens on the Claimer's goroutine, so
// that a slow NetworkManager never delays a Connect's reply.
func (c *Claimer) Claim(link string) {
	c.mu.Lock()
	c.pending[link] = true
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // a round is due already
	}
}

func (c *Claimer) run(ctx context.Context) {
	defer close(c.done)
	defer c.conn.RemoveSignal(c.sigs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			c.mu.Lock()
			links := c.pending
			c.pending = map[string]bool{}
			c.mu.Unlock()
			c.claimAll(ctx, "", slices.Collect(maps.Keys(links)))
		case s := <-c.sigs:
			if s == nil {
				continue
			}
			c.signal(ctx, s)
		}
	}
}

// signal handles NetworkManager's start (every tunnel's link is claimed
// again: it forgot) and a new device (claimed if it is a tunnel's).
func (c *Claimer) signal(ctx context.Context, s *dbus.Signal) {
	switch s.Name {
	case "org.freedesktop.DBus.NameOwnerChanged":
		if len(s.Body) != 3 {
			return
		}
		name, _ := s.Body[0].(string)
		newOwner, _ := s.Body[2].(string)
		// The bus stamps the sender of every message: only its own
		// announcement says who NetworkManager is now.
		if s.Sender != "org.freedesktop.DBus" || name != BusName || newOwner == "" {
			return
		}
		// It forgot: claim every connected tunnel's link again. One it
		// has not found yet is claimed by its DeviceAdded.
		c.claimAll(ctx, newOwner, c.active())
	case Interface + ".DeviceAdded":
		if s.Path != Path || len(s.Body) != 1 {
			return
		}
		dev, ok := s.Body[0].(dbus.ObjectPath)
		if !ok {
			return
		}
		// Anyone may send a signal that passes no match rule: only
		// NetworkManager's own counts.
		owner, err := c.owner(ctx)
		if err != nil || owner == "" || owner != s.Sender {
			return
		}
		link, err := c.deviceLink(ctx, dev)
		if err != nil || !c.ours(link) {
			return
		}
		c.claimOf(ctx, owner, link, dev)
	}
}

// owner returns the unique name of NetworkManager's connection, "" when
// it is not on the bus.
func (c *Claimer) owner(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var owner string
	err := c.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, BusName).Store(&owner)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" {
		return "", nil
	}
	return owner, err
}

// deviceLink returns the interface name of NetworkManager's device dev.
func (c *Claimer) deviceLink(ctx context.Context, dev dbus.ObjectPath) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var v dbus.Variant
	err := c.conn.Object(BusName, dev).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, DeviceInterface, "Interface").Store(&v)
	if err != nil {
		return "", err
	}
	name, _ := v.Value().(string)
	return name, nil
}

// claimAll marks links unmanaged in the NetworkManager of unique name
// owner, found on the bus when "". A link NetworkManager has not seen
// yet is claimed when its DeviceAdded comes; with NetworkManager not
// running there is nothing to do.
func (c *Claimer) claimAll(ctx context.Context, owner string, links []string) {
	if owner == "" && len(links) > 0 {
		var err error
		if owner, err = c.owner(ctx); err != nil {
			if ctx.Err() == nil {
				c.logger.Printf("%q: could not tell NetworkManager to leave them alone: %v", links, err)
			}
			return
		}
	}
	if owner == "" {
		return
	}
	for _, link := range links {
		c.claimOf(ctx, owner, link, "")
	}
}

// claimOf marks link unmanaged in the NetworkManager of unique name
// owner, finding its device first unless dev is given.
func (c *Claimer) claimOf(ctx context.Context, owner, link string, dev dbus.ObjectPath) {
	if !c.ours(link) {
		return // gone meanwhile
	}
	if err := c.setUnmanaged(ctx, owner, link, dev); err != nil && ctx.Err() == nil {
		c.logger.Printf("%q: could not tell NetworkManager to leave it alone: %v", link, err)
	}
}

func (c *Claimer) setUnmanaged(ctx context.Context, owner, link string, dev dbus.ObjectPath) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	nm := c.conn.Object(owner, Path)
	if dev == "" {
		err := nm.CallWithContext(ctx, Interface+".GetDeviceByIpIface", 0, link).Store(&dev)
		var de dbus.Error
		if errors.As(err, &de) && (de.Name == errUnknownDevice || de.Name == "org.freedesktop.DBus.Error.UnknownObject") {
			// It has not seen the link yet, or (just started) has not
			// exported its objects: the link's DeviceAdded will come.
			return nil
		}
		if err != nil {
			return fmt.Errorf("find its device: %w", err)
		}
	}
	obj := c.conn.Object(owner, dev)
	var v dbus.Variant
	if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, DeviceInterface, "Managed").Store(&v); err != nil {
		return fmt.Errorf("read Managed of %s: %w", dev, err)
	}
	if managed, ok := v.Value().(bool); ok && !managed {
		return nil
	}
	if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Set", 0, DeviceInterface, "Managed", dbus.MakeVariant(false)).Err; err != nil {
		return fmt.Errorf("set Managed of %s to false: %w", dev, err)
	}
	c.logger.Printf("%q: NetworkManager told to leave it alone (device %s unmanaged)", link, dev)
	return nil
}
