// Package wanted keeps which tunnels the user wants up, durably, so that
// a helper that crashed, was killed or was restarted brings them up
// again: a Connect adds the wish, an explicit Disconnect (or Remove)
// takes it away. The file is root-only in the helper's lib directory
// (/var/lib/wgtray), written atomically.
//
// A wish holds for the boot it was made in: the file records the kernel's
// boot ID, and after a reboot the wishes are void. Coming up at boot is
// what a tunnel's autoconnect option is for; a tunnel connected once on a
// café's network should not come up by itself at every boot.
//
// Because of that the wishes are written atomically but not synced: what
// they must survive is the helper's own death, and the page cache outlives
// it. Only a power cut or a kernel crash could lose a change or tear the
// file, and either means a reboot, after which no wish holds whatever the
// file says (a torn file reads as an error, and the Store starts empty).
// Two fsyncs on the disk of /var/lib took milliseconds of every Connect
// and Disconnect. The autoconnect file (SetBoot) is synced: it is read at
// the next boot.
package wanted

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/wgtray/wgtray/helper/atomicfile"
	"github.com/wgtray/wgtray/ipc"
)

// FileName is the file's name in the lib directory.
const FileName = "wanted.json"

// bootIDPath is where the kernel says which boot this is.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

// Store is the wishes of one helper. Its methods are safe for concurrent
// use.
type Store struct {
	path string
	boot string

	mu      sync.Mutex
	tunnels []string // sorted
}

type file struct {
	Boot    string   `json:"boot"`
	Tunnels []string `json:"tunnels"`
}

// Open reads the wishes in dir, if any. Those of another boot, and names
// that are not valid tunnel names, are dropped; a file that cannot be
// read as wishes is an error (and the Store starts empty).
func Open(dir string) (*Store, error) {
	boot, err := os.ReadFile(bootIDPath)
	if err != nil {
		return nil, fmt.Errorf("read the boot ID: %w", err)
	}
	s := &Store{path: filepath.Join(dir, FileName), boot: strings.TrimSpace(string(boot))}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %s: %w", s.path, err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return s, fmt.Errorf("read %s: %w", s.path, err)
	}
	if f.Boot != s.boot {
		return s, nil // the machine rebooted: no wish holds
	}
	for _, n := range f.Tunnels {
		if ipc.ValidName(n) == nil {
			s.tunnels = append(s.tunnels, n)
		}
	}
	slices.Sort(s.tunnels)
	s.tunnels = slices.Compact(s.tunnels)
	return s, nil
}

// List returns the tunnels wanted up, sorted.
func (s *Store) List() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tunnels)
}

// Add records that name is wanted up.
func (s *Store) Add(name string) error {
	return s.change(func(ts []string) []string {
		if i, found := slices.BinarySearch(ts, name); !found {
			ts = slices.Insert(ts, i, name)
		}
		return ts
	})
}

// Remove records that name is not wanted up.
func (s *Store) Remove(name string) error {
	return s.change(func(ts []string) []string {
		if i, found := slices.BinarySearch(ts, name); found {
			ts = slices.Delete(ts, i, i+1)
		}
		return ts
	})
}

// change applies edit and writes the file if the wishes changed. The
// file is written before the change counts: a failed write leaves both
// as they were.
func (s *Store) change(edit func([]string) []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := edit(slices.Clone(s.tunnels))
	if slices.Equal(next, s.tunnels) {
		return nil
	}
	if len(next) == 0 {
		// Nothing wanted: no file, as before the first wish.
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", s.path, err)
		}
		s.tunnels = nil
		return nil
	}
	data, err := json.Marshal(file{Boot: s.boot, Tunnels: append([]string{}, next...)})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := atomicfile.WriteUnsynced(s.path, append(data, '\n'), 0o600, 0, 0); err != nil {
		return err
	}
	s.tunnels = next
	return nil
}

// BootFile is the file, in the lib directory, that lists the tunnels
// whose autoconnect is boot; it exists only while there is one. The
// package's wgtray-autoconnect.service starts the helper at boot only
// when it exists (ConditionPathExists).
const BootFile = "autoconnect"

// SetBoot writes BootFile with names, one a line, or removes it when
// names is empty.
func (s *Store) SetBoot(names []string) error {
	path := filepath.Join(filepath.Dir(s.path), BootFile)
	if len(names) == 0 {
		if err := atomicfile.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, []byte(strings.Join(names, "\n")+"\n"), 0o600, 0, 0)
}

// Forget removes every wish in dir, as package removal does
// (wgtray-helper --remove-block): a package removed and installed again
// brings no tunnel up by itself.
func Forget(dir string) error {
	if err := atomicfile.Remove(filepath.Join(dir, FileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
