package store

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// Remove deletes a stored config; a symlink under its name is removed,
// not its target. A missing tunnel's error matches fs.ErrNotExist.
func (s *Store) Remove(name string) error {
	file, err := s.file(name)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(s.fd, file, 0); err != nil {
		return fmt.Errorf("remove tunnel %q: %w", name, &fs.PathError{Op: "remove", Path: s.path(file), Err: err})
	}
	return s.syncDir()
}
