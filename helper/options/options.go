// Package options keeps wgtray's own settings: per tunnel (kill-switch,
// allow-lan, …) in a file NAME.options beside the tunnel's NAME.conf, never
// inside it, so that wg-quick reads the config as before; machine-wide
// (lockdown, …) in a file "options" of the helper's state directory.
//
// Each key is one entry of a table (Tunnel, Machine) naming the values it
// takes and its default. Files are root-owned, mode 0600, "key=value"
// lines, written atomically relative to a descriptor of their directory
// opened once with O_NOFOLLOW, and never through a symlink.
package options

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// On and Off are the values of the boolean options.
const (
	On  = "on"
	Off = "off"
)

// Keys of the per-tunnel options.
const (
	// KillSwitch blocks every packet that would not go through a full
	// tunnel while it is connecting, connected, or its helper has died.
	// Unset, it is on for a full tunnel; it never applies to a split one.
	KillSwitch = "kill-switch"
	// AllowLAN lets the block pass the directly connected networks,
	// link-local addresses and local multicast.
	AllowLAN = "allow-lan"
	// Autoconnect is when the helper brings the tunnel up by itself:
	// off, or boot (when the helper starts at boot, before anyone logs
	// in).
	Autoconnect = "autoconnect"
)

// Boot is the value of autoconnect that brings a tunnel up at boot.
const Boot = "boot"

// Keys of the machine-wide options.
const (
	// Lockdown blocks as a kill switch does while no tunnel is connected,
	// across restarts and reboots.
	Lockdown = "lockdown"
	// LockdownAllowLAN is allow-lan for the block of lockdown when no
	// tunnel holds one.
	LockdownAllowLAN = "lockdown-allow-lan"
)

// Key describes one option.
type Key struct {
	// Values are the values the key takes.
	Values []string
	// Default is the value of an unset key; "" when it depends on the
	// tunnel (kill-switch: on for a full tunnel).
	Default string
	// Help is one line for people.
	Help string
}

// Tunnel lists the per-tunnel options. Adding one is one entry here.
var Tunnel = map[string]Key{
	KillSwitch:  {Values: []string{On, Off}, Help: "block traffic outside a full tunnel (default on for a full tunnel)"},
	AllowLAN:    {Values: []string{On, Off}, Default: On, Help: "let the kill switch pass the local network"},
	Autoconnect: {Values: []string{Off, Boot}, Default: Off, Help: "boot: bring the tunnel up at boot, before anyone logs in"},
}

// Machine lists the machine-wide options.
var Machine = map[string]Key{
	Lockdown:         {Values: []string{On, Off}, Default: Off, Help: "block traffic outside a tunnel even when none is connected"},
	LockdownAllowLAN: {Values: []string{On, Off}, Default: On, Help: "let lockdown pass the local network"},
}

// ErrInvalid is wrapped by the errors of an unknown key or a value the
// key does not take.
var ErrInvalid = errors.New("invalid option")

// Check reports whether table has key and key takes value.
func Check(table map[string]Key, key, value string) error {
	k, ok := table[key]
	if !ok {
		return fmt.Errorf("%w: unknown key %q (known: %s)", ErrInvalid, key, strings.Join(Names(table), ", "))
	}
	if !slices.Contains(k.Values, value) {
		return fmt.Errorf("%w: %s takes %s, not %q", ErrInvalid, key, strings.Join(k.Values, " or "), value)
	}
	return nil
}

// Names returns the keys of table, sorted.
func Names(table map[string]Key) []string {
	out := make([]string, 0, len(table))
	for k := range table {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Values is the content of one options file: the keys that are set.
type Values map[string]string

// Get returns the value of key, or its default in table when unset.
func (v Values) Get(table map[string]Key, key string) string {
	if s, ok := v[key]; ok {
		return s
	}
	return table[key].Default
}

// Bool returns whether key is on; def is the answer for a key that is
// unset and has no default of its own.
func (v Values) Bool(table map[string]Key, key string, def bool) bool {
	switch v.Get(table, key) {
	case On:
		return true
	case Off:
		return false
	}
	return def
}

// maxSize bounds an options file: a few short lines.
const maxSize = 4096

// parse reads "key=value" lines. Keys this version does not know are
// kept, so that a newer helper's settings survive a downgrade.
func parse(data []byte) (Values, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("larger than %d bytes", maxSize)
	}
	v := Values{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: not key=value", i+1)
		}
		v[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return v, nil
}

// format writes v as sorted "key=value" lines.
func (v Values) format() []byte {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# wgtray's settings; change them with `wgtray set` or `wgtray lockdown`\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, v[k])
	}
	return []byte(b.String())
}
