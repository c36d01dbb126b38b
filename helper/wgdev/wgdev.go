// Package wgdev creates WireGuard devices: the kernel's over netlink where
// the wireguard link type exists, otherwise wireguard-go running inside this
// process with its UAPI socket where wg(8) and wgctrl look for it. Either
// kind is configured through wgctrl.
package wgdev

import (
	"errors"
	"fmt"
)

// Mode selects the WireGuard implementation.
type Mode int

// The implementations.
const (
	Auto      Mode = iota // the kernel's when it has WireGuard, else embedded
	Kernel                // the kernel module only
	Userspace             // the embedded wireguard-go only
)

// ParseMode reads the value of the --wireguard flag.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "kernel":
		return Kernel, nil
	case "userspace":
		return Userspace, nil
	}
	return 0, fmt.Errorf("--wireguard=%q: want auto, kernel or userspace", s)
}

func (m Mode) String() string {
	switch m {
	case Kernel:
		return "kernel"
	case Userspace:
		return "userspace"
	}
	return "auto"
}

// ErrNoKernelSupport is returned in Kernel mode when the kernel has no
// WireGuard link type.
var ErrNoKernelSupport = errors.New("the kernel has no WireGuard support (no wireguard link type)")
