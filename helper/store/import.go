package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
)

// Import validates data and stores it as name. Nothing is written unless
// the name is valid and data parses (config.Parse's error is returned as
// is). An existing tunnel, or anything else under its file name, symlinks
// included, is never replaced or written through: the error then matches
// fs.ErrExist. The file appears whole, durably, or not at all.
func (s *Store) Import(name string, data []byte) error {
	file, err := s.file(name)
	if err != nil {
		return err
	}
	if _, err := config.Parse(data); err != nil {
		return err
	}
	tmp, err := s.writeTemp(file, data)
	if err != nil {
		return fmt.Errorf("import tunnel %q: %w", name, err)
	}
	if err := place(s.fd, tmp, file); err != nil {
		// Best effort: a leftover temporary file is inert, never listed.
		_ = unix.Unlinkat(s.fd, tmp, 0)
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("import tunnel %q: %s: %w", name, s.path(file), fs.ErrExist)
		}
		return fmt.Errorf("import tunnel %q: move into place: %w", name, err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("import tunnel %q: stored, but maybe not durably: %w", name, err)
	}
	return nil
}

// writeTemp writes data to a new hidden file next to file and returns its
// name. The file is created exclusively, so nothing is followed or
// reused, and is owned by s.uid:s.gid with mode 0600 before any byte is
// written: a config holds a private key.
func (s *Store) writeTemp(file string, data []byte) (tmp string, err error) {
	var fd int
	for range 100 {
		tmp = "." + file + ".tmp-" + rand.Text()
		fd, err = unix.Openat(s.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("create temporary file in %s: %w", s.dir, err)
	}
	f := os.NewFile(uintptr(fd), s.path(tmp))
	defer func() {
		if err != nil {
			f.Close()
			_ = unix.Unlinkat(s.fd, tmp, 0)
		}
	}()
	// The helper may run with another group, and the umask may have
	// taken bits off 0600; set both exactly.
	if err := unix.Fchown(fd, s.uid, s.gid); err != nil {
		return "", fmt.Errorf("chown temporary file: %w", err)
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return "", fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return "", fmt.Errorf("write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close temporary file: %w", err)
	}
	return tmp, nil
}

// place renames from to to within dirfd unless to exists: with
// RENAME_NOREPLACE anything already named to, a symlink included, makes
// it fail with EEXIST, so nothing is clobbered or written through. On a
// file system without RENAME_NOREPLACE it links instead, which never
// replaces either.
func place(dirfd int, from, to string) error {
	err := unix.Renameat2(dirfd, from, dirfd, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return link(dirfd, from, to)
	}
	return err
}

// link gives from the name to, failing with EEXIST if to exists, and
// drops the name from.
func link(dirfd int, from, to string) error {
	if err := unix.Linkat(dirfd, from, dirfd, to, 0); err != nil {
		return err
	}
	// The config is in place; a leftover temporary name is harmless.
	_ = unix.Unlinkat(dirfd, from, 0)
	return nil
}
