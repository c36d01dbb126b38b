package dns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/wgtray/wgtray/helper/atomicfile"
	"github.com/wgtray/wgtray/helper/plan"
)

// ReadFileState reads path without following a final symbolic link.
func ReadFileState(path string) (plan.FileState, error) {
	st := plan.FileState{Path: path}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read %s: %w", path, err)
	}
	st.Exists = true
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.UID, st.GID = int(sys.Uid), int(sys.Gid)
	}
	st.Mode = uint32(fi.Mode().Perm())
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if st.Symlink, err = os.Readlink(path); err != nil {
			return st, fmt.Errorf("read link %s: %w", path, err)
		}
	case fi.Mode().IsRegular():
		if st.Data, err = os.ReadFile(path); err != nil {
			return st, fmt.Errorf("read %s: %w", path, err)
		}
	default:
		return st, fmt.Errorf("%s is neither a file nor a symbolic link", path)
	}
	return st, nil
}

// writeFile makes path be st atomically: a new file or link under a
// temporary name in the same directory, renamed over path, then the
// directory synced. Readers see the old or the new file, never a part.
func writeFile(path string, st plan.FileState) error {
	if !st.Exists {
		return atomicfile.Remove(path)
	}
	if st.Symlink != "" {
		return writeLink(path, st)
	}
	err := atomicfile.Write(path, st.Data, fs.FileMode(st.Mode), st.UID, st.GID)
	switch {
	case errors.Is(err, syscall.EROFS):
		// A read-only directory with a writable file in it, as systemd's
		// ProtectSystem=strict with ReadWritePaths=/etc/resolv.conf makes.
		return writeInPlace(path, st.Data)
	case errors.Is(err, syscall.EBUSY):
		// path is a mount point, as a container's resolv.conf is: it
		// cannot be replaced, only rewritten.
		return writeInPlace(path, st.Data)
	}
	return err
}

// writeLink makes path the symbolic link st, atomically: the link is made
// under a temporary name in the same directory and renamed over path.
func writeLink(path string, st plan.FileState) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".wgtray-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp reserved a unique name; the link takes its place.
	name := tmp.Name()
	tmp.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Symlink(st.Symlink, name); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Lchown(name, st.UID, st.GID); err != nil {
		os.Remove(name)
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return atomicfile.SyncDir(dir)
}

// writeInPlace rewrites the file at path, for when it cannot be replaced.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	return f.Close()
}
