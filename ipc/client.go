package ipc

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Client calls the helper. Its methods are safe for concurrent use.
type Client struct {
	conn *dbus.Conn
	obj  dbus.BusObject
	own  bool
}

// Dial connects to the system bus (or the bus DBUS_SYSTEM_BUS_ADDRESS
// names) with a connection of its own.
func Dial(ctx context.Context) (*Client, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	c := NewClient(conn)
	c.own = true
	return c, nil
}

// NewClient returns a client on an existing connection, which it does not
// close.
func NewClient(conn *dbus.Conn) *Client {
	return &Client{conn: conn, obj: conn.Object(BusName, ObjectPath)}
}

// Conn returns the bus connection.
func (c *Client) Conn() *dbus.Conn { return c.conn }

// Close closes the connection if Dial made it.
func (c *Client) Close() error {
	if c.own {
		return c.conn.Close()
	}
	return nil
}

// interactive calls may make polkit ask the user for a password.
func (c *Client) call(ctx context.Context, method string, interactive bool, args ...any) *dbus.Call {
	var flags dbus.Flags
	if interactive {
		flags = dbus.FlagAllowInteractiveAuthorization
	}
	return c.obj.CallWithContext(ctx, Interface+"."+method, flags, args...)
}

// List returns every stored tunnel with its state, sorted by name.
func (c *Client) List(ctx context.Context) ([]Tunnel, error) {
	var out []Tunnel
	if err := c.call(ctx, "List", false).Store(&out); err != nil {
		return nil, FromDBus(err)
	}
	return out, nil
}

// Status describes one tunnel.
func (c *Client) Status(ctx context.Context, name string) (Status, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, "Status", false, name).Store(&m); err != nil {
		return Status{}, FromDBus(err)
	}
	return StatusFromMap(m)
}

// Connect brings a tunnel up; it returns when routes, rules and firewall
// are in place, or with an error after everything was rolled back. It can
// take as long as a password prompt: give ctx no shorter a deadline than a
// person needs.
func (c *Client) Connect(ctx context.Context, name string) error {
	return FromDBus(c.call(ctx, "Connect", true, name).Err)
}

// Disconnect takes a tunnel down; one that is down is not an error.
func (c *Client) Disconnect(ctx context.Context, name string) error {
	return FromDBus(c.call(ctx, "Disconnect", true, name).Err)
}

// Import validates a wg-quick config and stores it as name.
func (c *Client) Import(ctx context.Context, name, config string) error {
	return FromDBus(c.call(ctx, "Import", true, name, config).Err)
}

// Remove disconnects a tunnel if needed and deletes its config.
func (c *Client) Remove(ctx context.Context, name string) error {
	return FromDBus(c.call(ctx, "Remove", true, name).Err)
}

// GetConfig returns a stored config with its secrets hidden.
func (c *Client) GetConfig(ctx context.Context, name string) (string, error) {
	var s string
	if err := c.call(ctx, "GetConfig", true, name).Store(&s); err != nil {
		return "", FromDBus(err)
	}
	return s, nil
}

// Version returns the helper's Version property.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v dbus.Variant
	err := c.obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, Interface, PropertyVersion).Store(&v)
	if err != nil {
		return "", FromDBus(err)
	}
	s, ok := v.Value().(string)
	if !ok {
		return "", fmt.Errorf("Version has type %s, want s", v.Signature())
	}
	return s, nil
}
