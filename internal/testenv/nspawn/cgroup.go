package nspawn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/internal/proc"
)

// cgroup is a cgroup2 directory of the test's own, from which it starts
// systemd-nspawn: nspawn puts its supervisor and the container's payload
// in sub-cgroups of the one it starts in, and where that is the root (on
// this kind of machine, whose PID 1 is not systemd) it would make them at
// the top of the machine's hierarchy.
type cgroup struct {
	path    string   // below the cgroup2 mount
	mirrors []string // the same path in a name=systemd v1 hierarchy, which nspawn mirrors on a hybrid machine
}

// unifiedMount returns where the cgroup2 hierarchy is mounted: at
// /sys/fs/cgroup on a pure cgroup2 machine, at /sys/fs/cgroup/unified on
// a hybrid one.
func unifiedMount() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

// ownCgroup2 returns this process's cgroup2 path ("0::" in
// /proc/self/cgroup).
func ownCgroup2() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 entry in /proc/self/cgroup")
}

// newCgroup creates a cgroup below this process's own.
func newCgroup() (*cgroup, error) {
	mnt, err := unifiedMount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup2()
	if err != nil {
		return nil, err
	}
	removeStale(mnt, own)
	rel := filepath.Join(own, fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), randHex(4)))
	cg := &cgroup{path: filepath.Join(mnt, rel), mirrors: mirrors(mnt, rel)}
	if err := os.Mkdir(cg.path, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	return cg, nil
}

// mirrors returns where nspawn mirrors cgroup rel of the cgroup2
// hierarchy at mnt: on a hybrid machine, the same path in the name=systemd
// v1 hierarchy.
func mirrors(mnt, rel string) []string {
	var st unix.Statfs_t
	if mnt != "/sys/fs/cgroup" && unix.Statfs("/sys/fs/cgroup/systemd", &st) == nil && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return []string{filepath.Join("/sys/fs/cgroup/systemd", rel)}
	}
	return nil
}

// cgroupPrefix starts the name of each cgroup newCgroup makes; the
// creating process's pid follows.
const cgroupPrefix = "wgtray-nspawn-"

// removeStale kills and removes what test binaries that were killed
// themselves left: cgroups of ours (by name) whose creator is gone, with
// the containers still in them.
func removeStale(mnt, own string) {
	dirs, _ := filepath.Glob(filepath.Join(mnt, own, cgroupPrefix+"*"))
	for _, d := range dirs {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), cgroupPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || proc.Alive(pid) {
			continue
		}
		cg := &cgroup{path: d, mirrors: mirrors(mnt, strings.TrimPrefix(d, mnt))}
		cg.remove()
	}
}

// command returns a command that runs name in the cgroup: a shell moves
// itself there and execs name. The context's end kills it.
func (cg *cgroup) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append([]string{"-c", `echo $$ >"$0/cgroup.procs" && exec "$@"`, cg.path, name}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", argv...)
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	return cmd
}

// populated reports whether a process is left in the cgroup or below.
func (cg *cgroup) populated() bool {
	b, err := os.ReadFile(filepath.Join(cg.path, "cgroup.events"))
	return err == nil && strings.Contains(string(b), "populated 1")
}

// remove kills what is left in the cgroup (it and everything below it are
// the test's), waits for it to be empty and removes it with its
// sub-cgroups, and the mirrors.
func (cg *cgroup) remove() error {
	if cg.populated() {
		// cgroup.kill (Linux 5.14) kills the whole subtree at once.
		os.WriteFile(filepath.Join(cg.path, "cgroup.kill"), []byte("1"), 0)
		deadline := time.Now().Add(30 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		for cg.populated() && time.Now().Before(deadline) {
			<-tick.C
		}
		tick.Stop()
	}
	var errs []error
	for _, root := range append([]string{cg.path}, cg.mirrors...) {
		errs = append(errs, rmTree(root))
	}
	return errors.Join(errs...)
}

// rmTree removes the cgroup directory root and its sub-cgroups, deepest
// first. A cgroup's files cannot be removed, only its directory.
func rmTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
	}
	return nil
}
