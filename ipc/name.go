package ipc

import (
	"errors"
	"regexp"
)

// MaxConfigSize is the largest config Import accepts, in bytes (64 KiB):
// the helper refuses a larger one, and clients check before sending it.
const MaxConfigSize = 64 << 10

// nameRE is the pattern wg-quick uses to take an interface name from a
// config file name; 15 bytes is the kernel's limit (IFNAMSIZ less the NUL).
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_=+.-]{1,15}$`)

// ValidName checks a tunnel name, as every method taking a name does
// before anything else (ErrInvalidName). Names are interface names as
// wg-quick accepts them: 1 to 15 of [a-zA-Z0-9_=+.-], and not "." or "..".
func ValidName(name string) error {
	if name == "." || name == ".." || !nameRE.MatchString(name) {
		return errors.New("a tunnel name is 1 to 15 letters, digits or _=+.- characters, other than \".\" and \"..\"")
	}
	return nil
}
