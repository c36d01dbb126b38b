// Package proc answers whether a process still runs, one way for the
// helper (is the helper that wrote this journal gone?) and for the tests'
// harnesses (is the creator of this namespace or user gone?).
package proc

import (
	"bytes"
	"fmt"
	"os"
)

// Alive reports whether process pid still runs. A zombie counts as gone:
// it holds no sockets, namespaces or locks any more, and an orphan's
// zombie may wait a long time for a reaper that is not its parent.
// Reading /proc needs no permission over the process, so, unlike kill(2)
// with signal 0, the answer does not depend on who asks.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which may itself hold ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}
