package config

import (
	"fmt"
	"io"
)

// Config, Interface and Peer hold keys, and a wgtypes.Key prints as its
// base64 text. So that logging one of them by mistake (say, "%v" in an
// error path) cannot leak a private key, they format as a summary that
// holds no value at all, whatever the verb.

// String summarises the config without any of its values.
func (c Config) String() string {
	return fmt.Sprintf("config: [Interface] with %d addresses, %d peers (values hidden)", len(c.Interface.Addresses), len(c.Peers))
}

// Format writes String for every verb, %#v included.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// String summarises the section without any of its values.
func (in Interface) String() string { return "[Interface] (values hidden)" }

// Format writes String for every verb, %#v included.
func (in Interface) Format(f fmt.State, _ rune) { io.WriteString(f, in.String()) }

// String names the peer by the line of its section, not by any value.
func (p Peer) String() string { return fmt.Sprintf("[Peer] on line %d (values hidden)", p.Line) }

// Format writes String for every verb, %#v included.
func (p Peer) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }
