// Package atomicfile writes files so that a reader, or the machine after a
// power cut, sees the old content or the new, never a part: a temporary
// file in the same directory, synced, renamed over the name, and the
// directory synced.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write makes path hold data, with exactly mode (whatever the umask) and
// the owner uid:gid. A symlink at path is replaced, never written through.
// An error leaves path as it was and no temporary file behind; it wraps
// the system's error, so callers can tell EROFS or EBUSY apart.
func Write(path string, data []byte, mode fs.FileMode, uid, gid int) error {
	return write(path, data, mode, uid, gid, true)
}

// WriteUnsynced is Write without the syncs: readers see the old content
// or the new, never a part, but a power cut may lose the change or leave
// an empty or partial file. It is for files that a reboot voids anyway
// (package wanted's, valid for one boot ID), where waiting for the disk
// would only delay the caller: a process crash loses nothing, since the
// page cache outlives the process.
func WriteUnsynced(path string, data []byte, mode fs.FileMode, uid, gid int) error {
	return write(path, data, mode, uid, gid, false)
}

func write(path string, data []byte, mode fs.FileMode, uid, gid int, sync bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".wgtray-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	if err := fill(tmp, data, mode, uid, gid, sync); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	return SyncDir(dir)
}

func fill(f *os.File, data []byte, mode fs.FileMode, uid, gid int, sync bool) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return f.Sync()
}

// Remove deletes path, if it exists, and makes that durable.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a change of dir's entries (a file created, renamed or
// removed) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
