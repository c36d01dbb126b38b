package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SocketDir is where wireguard-go and wg(8) keep their UAPI sockets. It is
// one directory for all network namespaces, which is why WireGuard
// interface names must be unique per test.
const SocketDir = "/var/run/wireguard"

// SocketPath returns the UAPI socket of WireGuard interface iface.
func SocketPath(iface string) string { return filepath.Join(SocketDir, iface+".sock") }

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

// alive reports whether process pid still runs. A zombie counts as gone:
// it holds no sockets or namespaces any more, and an orphan's zombie may
// wait a long time for a reaper that is not ours.
func alive(pid int) bool {
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
		pids = slices.DeleteFunc(slices.Clone(pids), func(pid int) bool { return !alive(pid) })
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		<-tick.C
	}
}

// removeStaleSocket deletes iface's UAPI socket if nobody listens on it
// any more. A killed wireguard-go cannot remove its socket, and a stale one
// makes wg(8) and wg-quick believe the interface still exists.
func removeStaleSocket(iface string) {
	p := SocketPath(iface)
	c, err := net.DialTimeout("unix", p, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(p)
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
		if err != nil || pid == os.Getpid() || !alive(pid) {
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
		removeStaleSocket(iface)
	}
	return stopped
}

func cmdlineString(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}
