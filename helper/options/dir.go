package options

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/ipc"
)

// Dir is a directory of options files. Its methods are safe for
// concurrent use; changes of one Dir are serialized.
type Dir struct {
	dir string
	// fd is the directory, opened O_NOFOLLOW, as package store does: a
	// later swap of the path for a symlink changes nothing here.
	fd       int
	uid, gid int
	mu       sync.Mutex
}

// tunnelSuffix ends a tunnel's options file: NAME.options.
const tunnelSuffix = ".options"

// machineFile is the machine-wide options file.
const machineFile = "options"

// Open opens dir, creating it with mode 0700 if missing. A symlink is
// refused.
func Open(dir string) (*Dir, error) {
	return open(dir, os.Geteuid(), os.Getegid())
}

func open(dir string, uid, gid int) (*Dir, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create options directory: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open options directory: %w", &fs.PathError{Op: "open", Path: dir, Err: err})
	}
	return &Dir{dir: dir, fd: fd, uid: uid, gid: gid}, nil
}

// Close releases the directory.
func (d *Dir) Close() error { return unix.Close(d.fd) }

func tunnelFile(name string) (string, error) {
	if err := ipc.ValidName(name); err != nil {
		return "", fmt.Errorf("tunnel name %q: %w", name, err)
	}
	return name + tunnelSuffix, nil
}

// TunnelValues reads the options of tunnel name; a tunnel without a file
// has none set.
func (d *Dir) TunnelValues(name string) (Values, error) {
	file, err := tunnelFile(name)
	if err != nil {
		return nil, err
	}
	return d.read(file)
}

// MachineValues reads the machine-wide options.
func (d *Dir) MachineValues() (Values, error) { return d.read(machineFile) }

// SetTunnel sets key of tunnel name to value, after checking both against
// Tunnel; on error nothing changed.
func (d *Dir) SetTunnel(name, key, value string) error {
	file, err := tunnelFile(name)
	if err != nil {
		return err
	}
	if err := Check(Tunnel, key, value); err != nil {
		return err
	}
	return d.set(file, key, value)
}

// SetMachine sets a machine-wide key, after checking it against Machine.
func (d *Dir) SetMachine(key, value string) error {
	if err := Check(Machine, key, value); err != nil {
		return err
	}
	if err := d.set(machineFile, key, value); err != nil {
		return err
	}
	if key == Lockdown {
		return d.marker(value == On)
	}
	return nil
}

// LockdownMarker is the file in the machine's directory that exists
// while lockdown is on: the early-boot unit runs only then
// (ConditionPathExists).
const LockdownMarker = "lockdown-on"

func (d *Dir) marker(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !on {
		if err := unix.Unlinkat(d.fd, LockdownMarker, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", d.path(LockdownMarker), err)
		}
		return unix.Fsync(d.fd)
	}
	return d.write(LockdownMarker, []byte("lockdown is on: see `wgtray lockdown`\n"))
}

// RemoveTunnel deletes the options of tunnel name; none is not an error.
func (d *Dir) RemoveTunnel(name string) error {
	file, err := tunnelFile(name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := unix.Unlinkat(d.fd, file, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", d.path(file), err)
	}
	return unix.Fsync(d.fd)
}

func (d *Dir) path(file string) string { return filepath.Join(d.dir, file) }

func (d *Dir) set(file, key, value string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.read(file)
	if err != nil {
		return err
	}
	if v[key] == value {
		return nil
	}
	v[key] = value
	return d.write(file, v.format())
}

// read reads file; a missing one has no values. A symlink or anything
// but a regular file is an error.
func (d *Dir) read(file string) (Values, error) {
	fd, err := unix.Openat(d.fd, file, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return Values{}, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("read %s: a symlink, which is not followed", d.path(file))
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.path(file), err)
	}
	f := os.NewFile(uintptr(fd), d.path(file))
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", d.path(file))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.path(file), err)
	}
	v, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.path(file), err)
	}
	return v, nil
}

// write replaces file with data: a new temporary file, created
// exclusively, owned and moded before any byte is written, synced and
// renamed over the name. The rename replaces a symlink, never follows it.
func (d *Dir) write(file string, data []byte) (err error) {
	var fd int
	var tmp string
	for range 100 {
		tmp = "." + file + ".tmp-" + rand.Text()
		fd, err = unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", d.path(file), err)
	}
	f := os.NewFile(uintptr(fd), d.path(tmp))
	defer func() {
		if err != nil {
			f.Close()
			_ = unix.Unlinkat(d.fd, tmp, 0)
		}
	}()
	if err := unix.Fchown(fd, d.uid, d.gid); err != nil {
		return fmt.Errorf("write %s: chown: %w", d.path(file), err)
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return fmt.Errorf("write %s: chmod: %w", d.path(file), err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", d.path(file), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", d.path(file), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", d.path(file), err)
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, file); err != nil {
		return fmt.Errorf("write %s: rename: %w", d.path(file), err)
	}
	if err := unix.Fsync(d.fd); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", d.path(file), err)
	}
	return nil
}

// Store is where the helper keeps options: tunnels' beside their
// configs, the machine's in the helper's state directory, which is made
// only when a machine-wide option is first set (reading a machine that
// never set one creates nothing).
type Store struct {
	tunnels *Dir

	mu         sync.Mutex
	machine    *Dir // nil until machineDir exists
	machineDir string
}

// OpenStore opens the tunnels' directory and, if it exists, the
// machine's.
func OpenStore(tunnelDir, machineDir string) (*Store, error) {
	t, err := Open(tunnelDir)
	if err != nil {
		return nil, err
	}
	s := &Store{tunnels: t, machineDir: machineDir}
	if _, err := os.Lstat(machineDir); err == nil {
		if s.machine, err = Open(machineDir); err != nil {
			t.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close releases both directories.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.machine != nil {
		err = s.machine.Close()
	}
	return errors.Join(s.tunnels.Close(), err)
}

// TunnelValues is Dir.TunnelValues of the tunnels' directory.
func (s *Store) TunnelValues(name string) (Values, error) { return s.tunnels.TunnelValues(name) }

// SetTunnel is Dir.SetTunnel of the tunnels' directory.
func (s *Store) SetTunnel(name, key, value string) error {
	return s.tunnels.SetTunnel(name, key, value)
}

// RemoveTunnel is Dir.RemoveTunnel of the tunnels' directory.
func (s *Store) RemoveTunnel(name string) error { return s.tunnels.RemoveTunnel(name) }

// MachineValues is Dir.MachineValues of the machine's directory; none
// are set while it does not exist.
func (s *Store) MachineValues() (Values, error) {
	s.mu.Lock()
	m := s.machine
	s.mu.Unlock()
	if m == nil {
		return Values{}, nil
	}
	return m.MachineValues()
}

// SetMachine is Dir.SetMachine of the machine's directory, made (0700)
// if it does not exist.
func (s *Store) SetMachine(key, value string) error {
	if err := Check(Machine, key, value); err != nil {
		return err
	}
	s.mu.Lock()
	if s.machine == nil {
		m, err := Open(s.machineDir)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		s.machine = m
	}
	m := s.machine
	s.mu.Unlock()
	return m.SetMachine(key, value)
}
