package ipc

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Client calls the helper. Its methods are safe for concurrent use.
//
// No call has a deadline of its own: each lasts as long as its ctx, and
// every caller gives one. What wgtray uses:
//   - The command line: 30 seconds for a command that only looks (List,
//     Status), because the helper answers from memory and a silent helper
//     is a hung one; 60 seconds for one whose calls let polkit ask for a
//     password (Connect, Disconnect, Import, Remove, GetConfig); and
//     SIGINT/SIGTERM cancel.
//   - The tray: 30 seconds for List and Status (enough for D-Bus
//     activation to start a helper that is not running), 5 minutes for
//     Connect, Disconnect and Import, longer than the helper's own bounds
//     (2 minutes for a password, 2 for the change), each call in a
//     goroutine of its own so that the menu keeps answering.
//
// Cancelling abandons the reply, not the operation: watch StateChanged
// to learn how it ended. A call to a helper that is not running starts
// it, where an activation file is installed.
type Client struct {
	conn *dbus.Conn
	dest string
	path dbus.ObjectPath
	own  bool
}

// Dial connects to the system bus, or to the bus DBUS_SYSTEM_BUS_ADDRESS
// names, on a private connection (never godbus's shared one, so that
// Close cannot break another user of it), authenticates and says Hello.
// ctx bounds only the dialling: the connection outlives it until Close.
func Dial(ctx context.Context) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	// The sequential signal handler delivers signals in order however
	// slowly Watch's reader drains them; godbus's default one may reorder
	// them once a channel is full, and "connected" must not overtake
	// "connecting". No dbus.WithContext: it would close the connection
	// when ctx ends.
	conn, err := dbus.SystemBusPrivate(dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	// Auth and Hello take no context; closing the connection is what
	// interrupts them.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = conn.Auth(nil)
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("connect to the system bus: %w", errors.Join(ctx.Err(), err))
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	c := NewClient(conn)
	c.own = true
	return c, nil
}

// NewClient returns a client on an existing connection, which Close
// leaves open. For Watch to keep StateChanged signals in order, conn
// should use dbus.NewSequentialSignalHandler, as Dial's does.
func NewClient(conn *dbus.Conn) *Client {
	return &Client{conn: conn, dest: BusName, path: ObjectPath}
}

// Conn returns the bus connection.
func (c *Client) Conn() *dbus.Conn { return c.conn }

// Close closes the connection if Dial made it; it ends every Watch.
func (c *Client) Close() error {
	if !c.own {
		return nil
	}
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("close the bus connection: %w", err)
	}
	return nil
}

// call calls a method of Interface and waits for the reply or the end of
// ctx. Interactive calls let polkit ask the person for a password instead
// of refusing outright.
func (c *Client) call(ctx context.Context, method string, interactive bool, args ...any) *dbus.Call {
	var flags dbus.Flags
	if interactive {
		flags = dbus.FlagAllowInteractiveAuthorization
	}
	return c.send(ctx, Interface, method, flags, args...)
}

// send is BusObject.CallWithContext with the flags kept: godbus's
// CallWithContext (v5.2.4) masks them to NoAutoStart|NoReplyExpected,
// silently dropping AllowInteractiveAuthorization, so the message is
// built here. Context handling is godbus's, as in CallWithContext.
func (c *Client) send(ctx context.Context, iface, member string, flags dbus.Flags, args ...any) *dbus.Call {
	msg := &dbus.Message{
		Type:  dbus.TypeMethodCall,
		Flags: flags,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldDestination: dbus.MakeVariant(c.dest),
			dbus.FieldPath:        dbus.MakeVariant(c.path),
			dbus.FieldInterface:   dbus.MakeVariant(iface),
			dbus.FieldMember:      dbus.MakeVariant(member),
		},
		Body: args,
	}
	if len(args) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(args...))
	}
	return <-c.conn.SendWithContext(ctx, msg, make(chan *dbus.Call, 1)).Done
}

// List returns every stored tunnel with its state, sorted by name.
func (c *Client) List(ctx context.Context) ([]Tunnel, error) {
	var out []Tunnel
	if err := c.call(ctx, MethodList, false).Store(&out); err != nil {
		return nil, FromDBus(err)
	}
	return out, nil
}

// Status describes one tunnel.
func (c *Client) Status(ctx context.Context, name string) (Status, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, MethodStatus, false, name).Store(&m); err != nil {
		return Status{}, FromDBus(err)
	}
	s, err := StatusFromMap(m)
	if err != nil {
		return Status{}, fmt.Errorf("status of %q: %w", name, err)
	}
	return s, nil
}

// Connect brings a tunnel up. It returns when routes, rules, DNS and
// firewall are in place, or with an error after the helper rolled
// everything back.
func (c *Client) Connect(ctx context.Context, name string) error {
	return FromDBus(c.call(ctx, MethodConnect, true, name).Err)
}

// Disconnect takes a tunnel down.
func (c *Client) Disconnect(ctx context.Context, name string) error {
	return FromDBus(c.call(ctx, MethodDisconnect, true, name).Err)
}

// Import validates a wg-quick config and stores it as name; it never
// replaces an existing tunnel (ErrExists).
func (c *Client) Import(ctx context.Context, name, text string) error {
	return FromDBus(c.call(ctx, MethodImport, true, name, text).Err)
}

// Remove disconnects a tunnel if needed and deletes its config.
func (c *Client) Remove(ctx context.Context, name string) error {
	return FromDBus(c.call(ctx, MethodRemove, true, name).Err)
}

// GetConfig returns a stored config with its secrets hidden.
func (c *Client) GetConfig(ctx context.Context, name string) (string, error) {
	var s string
	if err := c.call(ctx, MethodGetConfig, true, name).Store(&s); err != nil {
		return "", FromDBus(err)
	}
	return s, nil
}

// Version returns the helper's Version property.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v dbus.Variant
	err := c.send(ctx, "org.freedesktop.DBus.Properties", "Get", 0, Interface, PropertyVersion).Store(&v)
	if err != nil {
		return "", FromDBus(err)
	}
	s, ok := v.Value().(string)
	if !ok {
		return "", fmt.Errorf("property %s has type %s, want s", PropertyVersion, v.Signature())
	}
	return s, nil
}

// SetTunnelOption sets one of wgtray's settings of tunnel name (see
// MethodSetTunnelOption); ErrInvalidArgs for an unknown key or value.
func (c *Client) SetTunnelOption(ctx context.Context, name, key, value string) error {
	return FromDBus(c.call(ctx, MethodSetTunnelOption, true, name, key, value).Err)
}

// SetOption sets a machine-wide setting (see MethodSetOption).
func (c *Client) SetOption(ctx context.Context, key, value string) error {
	return FromDBus(c.call(ctx, MethodSetOption, true, key, value).Err)
}

// Lockdown returns the Lockdown and Blocking properties: whether lockdown
// is on, and whether a block is in the kernel now.
func (c *Client) Lockdown(ctx context.Context) (lockdown, blocking bool, err error) {
	var m map[string]dbus.Variant
	if err := c.send(ctx, "org.freedesktop.DBus.Properties", "GetAll", 0, Interface).Store(&m); err != nil {
		return false, false, FromDBus(err)
	}
	lockdown, _ = m[PropertyLockdown].Value().(bool)
	blocking, _ = m[PropertyBlocking].Value().(bool)
	return lockdown, blocking, nil
}
