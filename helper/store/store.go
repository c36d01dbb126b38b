// Package store keeps tunnel configs as the NAME.conf files of a directory
// (normally /etc/wireguard, so that configs made for wg-quick show up).
// Files are root-owned, mode 0600, written atomically, never through a
// symlink and never over an existing file.
package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
)

const suffix = ".conf"

// Store is a config directory.
type Store struct {
	dir string
}

// Open checks dir and returns its store. The directory must be a real
// directory (not a symlink), owned by root and writable by no one else;
// a missing one is created with mode 0700.
func Open(dir string) (*Store, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create config directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	if err := checkDir(dir, fi); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

func checkDir(dir string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("config directory %s is not a directory (symlinks are refused)", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("config directory %s is writable by group or others (mode %v)", dir, fi.Mode().Perm())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("config directory %s: cannot tell its owner", dir)
	}
	if st.Uid != 0 {
		return fmt.Errorf("config directory %s is owned by uid %d, not root", dir, st.Uid)
	}
	return nil
}

// Dir returns the directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name string) (string, error) {
	if err := config.ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, name+suffix), nil
}

// List returns the names of the stored tunnels, sorted: regular files
// named NAME.conf with a valid name. Symlinks are not listed, because Read
// refuses to follow them.
func (s *Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	var out []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || !e.Type().IsRegular() || config.ValidName(name) != nil {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// Read returns a stored config. A missing tunnel's error matches
// fs.ErrNotExist.
func (s *Store) Read(name string) ([]byte, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("config %s is a symlink; refusing to follow it", p)
	}
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("config %s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, config.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > config.MaxSize {
		return nil, fmt.Errorf("config %s is larger than 64 KiB", p)
	}
	return data, nil
}

// Import validates data and stores it as name. Nothing is written unless
// it parses; an existing tunnel is never overwritten (the error matches
// fs.ErrExist). The file appears whole or not at all.
func (s *Store) Import(name string, data []byte) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if _, err := config.Parse(data); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".import-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// CreateTemp makes the file 0600 with O_EXCL; make the owner root even
	// if the helper runs with another group.
	if err := tmp.Chown(0, 0); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("chown: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	// RENAME_NOREPLACE fails if anything — a file or a symlink — has the
	// name, so nothing is overwritten or written through.
	if err := unix.Renameat2(unix.AT_FDCWD, tmpName, unix.AT_FDCWD, p, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("tunnel %q: %w", name, fs.ErrExist)
		}
		return fmt.Errorf("rename into place: %w", err)
	}
	ok = true
	return syncDir(s.dir)
}

// Remove deletes a stored config. A missing one's error matches
// fs.ErrNotExist.
func (s *Store) Remove(name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove config: %w", err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
