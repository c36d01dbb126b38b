// Package uapisock names WireGuard's userspace API sockets and tells a
// stale one from a live one, with one rule for the helper and the tests.
// wireguard-go and wg(8) agree on the place: /var/run/wireguard/NAME.sock.
package uapisock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Dir is where wireguard-go and wg(8) keep UAPI sockets. It is shared by
// every network namespace of the machine, so names must be unique across
// them.
const Dir = "/var/run/wireguard"

// dialTimeout bounds the probe of a socket: a live server accepts at once.
const dialTimeout = time.Second

// Path is the UAPI socket of WireGuard interface name.
func Path(name string) string { return filepath.Join(Dir, name+".sock") }

// RemoveStale removes name's socket if it is stale: a socket file on which
// nobody listens any more (connecting is refused), as a killed wireguard-go
// leaves it. A stale socket makes wg(8) and wg-quick believe the interface
// still exists. Anything else — a live socket, a file that is not a
// socket, a socket we may not connect to — is left alone: not provably
// dead, so not ours to remove.
func RemoveStale(name string) error {
	path := Path(name)
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err == nil {
		c.Close()
		return nil
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
