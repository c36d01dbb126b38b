// Package store keeps tunnel configs as the NAME.conf files of a directory
// (normally /etc/wireguard, so that configs made for wg-quick show up).
//
// Every operation works relative to a descriptor of the directory opened
// and checked once by Open, so the checks hold for the directory actually
// used even if its path is later swapped. Files are created root-owned
// with mode 0600, written atomically, never through a symlink and never
// over an existing file.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/ipc"
)

// suffix ends every config file's name.
const suffix = ".conf"

// Store is a config directory. Its methods are safe for concurrent use.
type Store struct {
	dir string
	// fd is the directory, opened O_NOFOLLOW. A raw descriptor rather
	// than an *os.File, so that no finalizer can close it while a system
	// call uses it.
	fd int
	// uid and gid own created files and must own the directory: root in
	// production, the test's own user in unprivileged tests.
	uid, gid int
}

// Open checks dir and returns its store. The directory must be a real
// directory (a symlink is refused), owned by root and writable by no one
// else. A missing one is created with mode 0700; its parent must exist.
func Open(dir string) (*Store, error) {
	return open(dir, 0, 0)
}

func open(dir string, uid, gid int) (*Store, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create config directory: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		// O_NOFOLLOW|O_DIRECTORY fails with ELOOP or ENOTDIR on a symlink;
		// say which it is.
		if fi, lerr := os.Lstat(dir); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("config directory %s is a symlink; it must be a real directory", dir)
		}
		if errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("config directory %s is not a directory", dir)
		}
		return nil, fmt.Errorf("open config directory: %w", &fs.PathError{Op: "open", Path: dir, Err: err})
	}
	if err := checkDir(dir, fd, uid); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Store{dir: dir, fd: fd, uid: uid, gid: gid}, nil
}

// checkDir refuses a directory that someone other than its owner could
// write to, since whoever can write a config can run commands as root
// through wg-quick's hooks or redirect traffic.
func checkDir(dir string, fd, uid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat config directory %s: %w", dir, err)
	}
	if int(st.Uid) != uid {
		return fmt.Errorf("config directory %s is owned by uid %d, want %d (root)", dir, st.Uid, uid)
	}
	if perm := fs.FileMode(st.Mode).Perm(); perm&0o022 != 0 {
		return fmt.Errorf("config directory %s is writable by its group or others (mode %#o); run chmod go-w on it", dir, perm)
	}
	return nil
}

// Dir returns the directory's path as given to Open.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory. The store must not be used afterwards.
func (s *Store) Close() error {
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("close config directory %s: %w", s.dir, err)
	}
	return nil
}

// file returns the file name of a tunnel, relative to the directory.
func (s *Store) file(name string) (string, error) {
	if err := ipc.ValidName(name); err != nil {
		return "", fmt.Errorf("tunnel name %q: %w", name, err)
	}
	return name + suffix, nil
}

// path is a file's full path, for messages.
func (s *Store) path(file string) string { return filepath.Join(s.dir, file) }

// syncDir makes a change of the directory's entries durable.
func (s *Store) syncDir() error {
	if err := unix.Fsync(s.fd); err != nil {
		return fmt.Errorf("sync config directory %s: %w", s.dir, err)
	}
	return nil
}
