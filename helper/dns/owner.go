package dns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wgtray/wgtray/helper/atomicfile"
	"github.com/wgtray/wgtray/helper/plan"
)

// With the resolv.conf fallback, every tunnel writes the same file, so
// the Host is its one owner: the file as it was before the first tunnel
// (the original) is kept once, in a durable state file under LibDir, with
// the connected tunnels in connect order; the file is composed from them,
// and when the last one goes the original comes back. The state outlives
// the journals in /run, so a power cut while connected cannot make the
// tunnels' file the machine's for good: Recover puts the original back at
// the next start.

// DefaultLibDir is the durable directory of the helper's state.
const DefaultLibDir = "/var/lib/wgtray"

const (
	// stateName is the durable state of resolv.conf, 0600: it holds the
	// original's bytes, mode and owner, or its link target.
	stateName = "resolv.conf.json"
	// maxState bounds what is read back: a resolv.conf and a few tunnels.
	maxState = 1 << 20
)

// fileState is the durable state of a resolv.conf that tunnels use.
type fileState struct {
	// Path is the file, normally ResolvConf.
	Path string `json:"path"`
	// Original is the file to put back when no tunnel uses it: as found
	// before the first tunnel, or as another program rewrote it since.
	Original plan.FileState `json:"original"`
	// Tunnels are the connected tunnels, in connect order.
	Tunnels tunnelList `json:"tunnels"`
	// Written is what the owner last wrote to Path; Writing, when set, is
	// what it is writing now. The file holding either is ours: a crash
	// between the state and the file leaves one of the two.
	Written plan.FileState  `json:"written"`
	Writing *plan.FileState `json:"writing,omitempty"`
}

// fileTunnel is one connected tunnel's share of the file.
type fileTunnel struct {
	Link    string       `json:"link"`
	Servers []netip.Addr `json:"servers"`
	Search  []string     `json:"search,omitempty"`
	// Process is the helper that connected it: once it is gone (a crash,
	// a reboot) and its journal with it, Recover drops the tunnel.
	Process process `json:"process"`
}

// ours reports whether cur is what the owner wrote (or is writing).
func (st *fileState) ours(cur plan.FileState) bool {
	return cur.Same(st.Written) || (st.Writing != nil && cur.Same(*st.Writing))
}

// compose returns what the file must be: the original when no tunnel
// uses it, else the tunnels' servers and search domains, each once, in
// connect order. Like wg-quick's exclusive resolvconf record, nothing of
// the original is kept: its servers are the ones the tunnels replace.
func (st *fileState) compose() plan.FileState {
	if len(st.Tunnels) == 0 {
		return st.Original
	}
	var all plan.DNS
	var links []string
	servers, search := map[netip.Addr]bool{}, map[string]bool{}
	for _, t := range st.Tunnels {
		links = append(links, t.Link)
		for _, s := range t.Servers {
			if !servers[s] {
				servers[s] = true
				all.Servers = append(all.Servers, s)
			}
		}
		for _, d := range t.Search {
			if !search[d] {
				search[d] = true
				all.Domains = append(all.Domains, plan.Domain{Name: d})
			}
		}
	}
	// One tunnel's file is the one the planner describes.
	header := fmt.Sprintf("# Written by wgtray for tunnel %s; the previous file comes back when it disconnects.\n", links[0])
	if len(links) > 1 {
		header = fmt.Sprintf("# Written by wgtray for tunnels %s; the previous file comes back when the last of them disconnects.\n", strings.Join(links, ", "))
	}
	data := append([]byte(header), all.ResolvConfText()...)
	return plan.FileState{Path: st.Path, Exists: true, Data: data, Mode: 0o644}
}

// tunnelList is the connected tunnels of a shared DNS setting, in
// connect order.
type tunnelList []fileTunnel

// put adds t at the end, or updates it in place when its link is there
// already (a retried step).
func (l *tunnelList) put(t fileTunnel) {
	for i := range *l {
		if (*l)[i].Link == t.Link {
			(*l)[i] = t
			return
		}
	}
	*l = append(*l, t)
}

// drop takes link's tunnel out.
func (l *tunnelList) drop(link string) {
	kept := (*l)[:0]
	for _, t := range *l {
		if t.Link != link {
			kept = append(kept, t)
		}
	}
	*l = kept
}

// adoptIfForeign makes cur the original if the owner did not write it:
// another program (a DHCP client, say) replaced the file while tunnels
// used it, and its file is the one to come back.
func (h *Host) adoptIfForeign(st *fileState, cur plan.FileState) {
	if st.ours(cur) {
		return
	}
	h.Logger.Printf("%s was changed by another program while tunnels used it; that file (%s) is now the one to put back", st.Path, cur)
	st.Original = cur
}

// fileSet adds the tunnel to the file.
func (h *Host) fileSet(link string, d *plan.DNS) error {
	if d.File == nil {
		return fmt.Errorf("resolv.conf: the plan names no file")
	}
	me, err := thisProcess()
	if err != nil {
		return err
	}
	planned := d.File.Original
	err = h.fileTx(planned.Path, func(st *fileState, cur plan.FileState) (*fileState, error) {
		// The file must be what the owner wrote, or what the planner saw:
		// anything else was written meanwhile, and would be lost.
		if (st == nil || !st.ours(cur)) && !cur.Same(planned) {
			return nil, fmt.Errorf("%s changed while the tunnel was being connected; try again", planned.Path)
		}
		if st == nil {
			st = &fileState{Path: planned.Path, Original: cur, Written: cur}
		}
		h.adoptIfForeign(st, cur)
		st.Tunnels.put(fileTunnel{Link: link, Servers: d.Servers, Search: d.Search(), Process: me})
		return st, nil
	})
	if err != nil || !d.File.Watch {
		return err
	}
	// The tunnel is connected: a watch that fails is logged, not fatal.
	if err := h.startWatch(planned.Path); err != nil {
		h.Logger.Print(err)
	}
	return nil
}

// fileRevert takes the tunnel out of the file; the last one out puts the
// original back. A tunnel that is not in it is fine: Revert is
// idempotent.
func (h *Host) fileRevert(link string, d *plan.DNS) error {
	if d.File == nil {
		return fmt.Errorf("resolv.conf: the plan names no file")
	}
	err := h.fileTx(d.File.Original.Path, func(st *fileState, cur plan.FileState) (*fileState, error) {
		if st == nil {
			return nil, nil
		}
		h.adoptIfForeign(st, cur)
		st.Tunnels.drop(link)
		return st, nil
	})
	h.stopWatchIfUnused()
	return err
}

// stopWatchIfUnused ends the watch once no tunnel uses the file, which
// the state's absence tells.
func (h *Host) stopWatchIfUnused() {
	if _, err := os.Lstat(filepath.Join(h.LibDir, stateName)); errors.Is(err, fs.ErrNotExist) {
		h.stopWatch()
	}
}

// fileRecover drops the tunnels whose helper is gone and makes the file
// what the others need, the original when none is left.
func (h *Host) fileRecover() error {
	// Nothing kept, nothing to do: a start makes no directory.
	if _, err := os.Lstat(filepath.Join(h.LibDir, stateName)); h.LibDir == "" || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	me, err := thisProcess()
	if err != nil {
		return err
	}
	defer h.stopWatchIfUnused()
	return h.fileTx("", func(st *fileState, cur plan.FileState) (*fileState, error) {
		if st == nil {
			return nil, nil
		}
		kept := st.Tunnels[:0]
		for _, t := range st.Tunnels {
			if t.Process.runs(me) {
				kept = append(kept, t)
				continue
			}
			h.Logger.Printf("tunnel %q of helper process %d is gone (crash or reboot): its DNS servers leave %s", t.Link, t.Process.PID, st.Path)
		}
		st.Tunnels = kept
		h.adoptIfForeign(st, cur)
		return st, nil
	})
}

// fileTx runs change on the durable state and the file as they are now,
// under the lock, then makes the file and the state what change returned:
// the composed file, and no state once no tunnel is left. change gets a
// nil state when there is none, and returns nil to change nothing. path
// is the file the caller means; "" for the one the state names.
func (h *Host) fileTx(path string, change func(st *fileState, cur plan.FileState) (*fileState, error)) error {
	dir, err := h.libDir()
	if err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	statePath := filepath.Join(dir, stateName)
	raw, st, err := loadState(statePath)
	if err != nil {
		return err
	}
	switch {
	case st != nil && path != "" && st.Path != path:
		return fmt.Errorf("%s keeps %s, not %s", statePath, st.Path, path)
	case st != nil:
		path = st.Path
	case path == "":
		return nil
	}
	cur, err := ReadFileState(path)
	if err != nil {
		return err
	}
	st, err = change(st, cur)
	if err != nil || st == nil {
		return err
	}
	target := st.compose()
	if !cur.Same(target) {
		st.Writing = &target
		if err := saveState(statePath, st); err != nil {
			return err
		}
		if err := writeFile(path, target); err != nil {
			// The file is as it was: so must the state be, or a tunnel
			// that failed to connect would stay in it.
			return errors.Join(err, restoreState(statePath, raw))
		}
	}
	if len(st.Tunnels) == 0 {
		return atomicfile.Remove(statePath)
	}
	st.Written, st.Writing = target, nil
	return saveState(statePath, st)
}

// libDir returns LibDir, made if missing, once it is sure to be a
// directory that only this user can write: the original kept there is
// what the machine's resolver will be given back.
func (h *Host) libDir() (string, error) {
	dir := h.LibDir
	if dir == "" {
		return "", errors.New("resolv.conf: no directory to keep the original in (--lib-dir)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("keep the original resolv.conf: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("keep the original resolv.conf: %w", err)
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return "", fmt.Errorf("keep the original resolv.conf: %s is not a directory", dir)
	case fi.Mode().Perm()&0o022 != 0 || !ok || int(sys.Uid) != os.Geteuid():
		return "", fmt.Errorf("keep the original resolv.conf: %s is writable by others than its owner, or not owned by uid %d", dir, os.Geteuid())
	}
	return dir, nil
}

// lockDir takes an exclusive lock on the directory itself, which
// serializes the helpers (the service and an `up` run by hand) that share
// the file. A lock file would stay behind, and the package's purge
// removes the directory only when it is empty.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// loadState reads the state, nil when there is none, and its bytes.
func loadState(path string) ([]byte, *fileState, error) {
	var st fileState
	raw, err := readState(path, &st)
	var d *damagedError
	if err == nil && raw != nil && !filepath.IsAbs(st.Path) {
		d = &damagedError{fmt.Errorf("path %q is not absolute", st.Path)}
	}
	if d != nil || errors.As(err, &d) {
		return nil, nil, fmt.Errorf("%s is damaged (%v); it keeps the resolv.conf to put back: repair or remove it by hand", path, d.err)
	}
	if raw == nil || err != nil {
		return nil, nil, err
	}
	return raw, &st, nil
}

// readState decodes the JSON state file at path into v, strictly (no
// unknown fields, at most maxState bytes, never through a symbolic
// link), and returns its bytes: nil, and no error, when there is none.
func readState(path string, v any) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxState+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if len(raw) > maxState {
		err = errors.New("too large")
	} else {
		err = dec.Decode(v)
	}
	if err != nil {
		return nil, &damagedError{err}
	}
	return raw, nil
}

// damagedError is a state file that is there but cannot be read back.
type damagedError struct{ err error }

func (e *damagedError) Error() string { return e.err.Error() }

// saveState writes the state durably, readable by this user only.
func saveState(path string, st *fileState) error {
	data, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600, os.Geteuid(), os.Getegid())
}

// restoreState puts back the state's earlier bytes, or none.
func restoreState(path string, raw []byte) error {
	if raw == nil {
		return atomicfile.Remove(path)
	}
	return atomicfile.Write(path, raw, 0o600, os.Geteuid(), os.Getegid())
}
