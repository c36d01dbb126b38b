package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/ipc"
)

// List returns the names of the stored tunnels, sorted: the regular files
// named NAME.conf with a valid name. Symlinks are not listed, even to
// regular files, because Read refuses to follow them: listing a tunnel
// that cannot be read or connected would only confuse.
func (s *Store) List() ([]string, error) {
	// A descriptor of its own: reading entries moves the offset, which
	// concurrent Lists must not share.
	fd, err := unix.Openat(s.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	d := os.NewFile(uintptr(fd), s.dir)
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	names := []string{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || !e.Type().IsRegular() || ipc.ValidName(name) != nil {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Read returns a stored config. A missing tunnel's error matches
// fs.ErrNotExist. A symlink, anything but a regular file, and a file
// larger than ipc.MaxConfigSize are errors.
func (s *Store) Read(name string) ([]byte, error) {
	file, err := s.file(name)
	if err != nil {
		return nil, err
	}
	p := s.path(file)
	// O_NONBLOCK so that a FIFO planted under the name cannot block the
	// open; it is refused below as not a regular file.
	fd, err := unix.Openat(s.fd, file, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("read tunnel %q: %s is a symlink, which is not followed", name, p)
	}
	if err != nil {
		return nil, fmt.Errorf("read tunnel %q: %w", name, &fs.PathError{Op: "open", Path: p, Err: err})
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read tunnel %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read tunnel %q: %s is not a regular file (%v)", name, p, fi.Mode().Type())
	}
	if fi.Size() > ipc.MaxConfigSize {
		return nil, fmt.Errorf("read tunnel %q: %s is larger than %d bytes", name, p, ipc.MaxConfigSize)
	}
	// Limited even so: the file may grow between Stat and read.
	data, err := io.ReadAll(io.LimitReader(f, ipc.MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read tunnel %q: %w", name, err)
	}
	if len(data) > ipc.MaxConfigSize {
		return nil, fmt.Errorf("read tunnel %q: %s is larger than %d bytes", name, p, ipc.MaxConfigSize)
	}
	return data, nil
}
