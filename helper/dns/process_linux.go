package dns

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wgtray/wgtray/internal/proc"
)

// process names the helper process that connected a tunnel, well enough
// to tell later whether it still runs: a process ID alone may be reused,
// and does not survive a reboot, so the boot and the process's start time
// go with it.
type process struct {
	Boot  string `json:"boot"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // clock ticks after boot, /proc/PID/stat's starttime
}

// bootIDPath is the kernel's random ID of the current boot.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

// thisProcess returns the calling process.
func thisProcess() (process, error) {
	boot, err := os.ReadFile(bootIDPath)
	if err != nil {
		return process{}, fmt.Errorf("read the boot ID: %w", err)
	}
	pid := os.Getpid()
	start, err := startTime(pid)
	if err != nil {
		return process{}, err
	}
	return process{Boot: strings.TrimSpace(string(boot)), PID: pid, Start: start}, nil
}

// runs reports whether p still runs, in the boot that now.Boot names.
func (p process) runs(now process) bool {
	if p.Boot != now.Boot || !proc.Alive(p.PID) {
		return false
	}
	start, err := startTime(p.PID)
	return err == nil && start == p.Start
}

// startTime reads when process pid started, from field 22 of its stat.
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the start time of process %d: %w", pid, err)
	}
	// The command name, field 2, is in parentheses and may hold anything,
	// ")" included: the fields that count start after the last ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process %d: unreadable stat %q", pid, b)
	}
	fields := strings.Fields(string(b[i+1:]))
	const starttime = 22 - 3 // fields[0] is field 3, the state
	if len(fields) <= starttime {
		return 0, fmt.Errorf("process %d: short stat %q", pid, b)
	}
	v, err := strconv.ParseUint(fields[starttime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("process %d: start time: %w", pid, err)
	}
	return v, nil
}
