package netns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wgtray/wgtray/internal/proc"
	"github.com/wgtray/wgtray/internal/uapisock"
)

// wireguardGoPids returns the pids of the wireguard-go processes whose
// command line names iface. A daemonized wireguard-go re-executes itself
// with the same arguments, so this finds it as well as one run with -f.
func wireguardGoPids(iface string) []int { return FindProcs("wireguard-go", iface) }

// FindProcs returns the pids of the processes whose executable's base
// name is exe and whose arguments include arg.
func FindProcs(exe, arg string) []int {
	return ProcsWhere(func(pid int) bool {
		args := cmdline(pid)
		return len(args) > 0 && filepath.Base(args[0]) == exe && slices.Contains(args[1:], arg)
	})
}

// ProcsWhere returns the pids of the running processes for which keep is
// true.
func ProcsWhere(keep func(pid int) bool) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && keep(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cmdline returns a process's command line, nil when it is gone.
func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// wireguardGoIface reports whether pid is a wireguard-go process and
// returns its arguments, one of which is its interface's name.
func wireguardGoIface(pid int) (bool, []string) {
	args := cmdline(pid)
	if len(args) == 0 {
		return false, nil
	}
	return filepath.Base(args[0]) == "wireguard-go", args[1:]
}

// terminate stops the processes pids: SIGTERM first, because wireguard-go
// then removes its socket itself, and SIGKILL for those still running
// after grace. It returns the pids that are still alive after that.
func terminate(pids []int, grace time.Duration) []int {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	left := waitGone(pids, grace)
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return waitGone(left, 5*time.Second)
}

// waitGone waits until none of pids is alive, at most timeout, and returns
// those still alive. The processes need not be our children, so there is
// nothing to wait(2) on: it checks /proc.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pids = slices.DeleteFunc(slices.Clone(pids), func(pid int) bool { return !proc.Alive(pid) })
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		<-tick.C
	}
}

// reapNS stops every process still running in namespace ns and removes
// the sockets of the wireguard-go processes among them. A namespace whose
// name is deleted lives on while a process is in it, so processes go first.
// It returns a description of each process it stopped.
func reapNS(ns string) []string {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	var ifaces, stopped []string
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid == os.Getpid() || !proc.Alive(pid) {
			continue
		}
		pids = append(pids, pid)
		isWG, args := wireguardGoIface(pid)
		if isWG && len(args) > 0 {
			ifaces = append(ifaces, args[len(args)-1])
		}
		stopped = append(stopped, fmt.Sprintf("pid %d %q", pid, cmdlineString(pid)))
	}
	if len(pids) == 0 {
		return nil
	}
	terminate(pids, 2*time.Second)
	for _, iface := range ifaces {
		uapisock.RemoveStale(iface)
	}
	return stopped
}

func cmdlineString(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}
