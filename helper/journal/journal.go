// Package journal records, before each change to the system is made, how to
// undo it. A journal is a file of JSON lines, one record a line, fsynced
// after every append, so that a helper that dies at any point leaves a
// complete list of what to undo for the next one (wgtray-helper --cleanup).
package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/wgtray/wgtray/helper/atomicfile"
)

const suffix = ".journal"

// Header is the first record of every journal.
type Header struct {
	Tunnel string `json:"tunnel"`
	PID    int    `json:"pid"`
}

// Journal is an open journal being appended to.
type Journal struct {
	f    *os.File
	path string
}

// Path is where the journal of tunnel lives in dir.
func Path(dir, tunnel string) string { return filepath.Join(dir, tunnel+suffix) }

// Create starts a new journal for tunnel in dir. It fails if one exists:
// an existing journal means a tunnel whose changes have not been undone.
func Create(dir, tunnel string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	path := Path(dir, tunnel)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &Journal{f: f, path: path}
	if err := j.Append(Header{Tunnel: tunnel, PID: os.Getpid()}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return j, nil
}

// Append writes one record and waits until it is on stable storage.
func (j *Journal) Append(rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Close closes the file, keeping the journal.
func (j *Journal) Close() error { return j.f.Close() }

// Remove closes and deletes the journal: everything it recorded is undone.
func (j *Journal) Remove() error {
	j.f.Close()
	return Discard(j.path)
}

// Discard deletes the journal at path; a missing one is not an error.
func Discard(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

// Entry is a journal read back: its header and its records in the order
// they were appended.
type Entry struct {
	Path    string
	Header  Header
	Records []json.RawMessage
}

// ErrEmpty is returned by Read for a journal that recorded nothing: its
// header was never completely written, so no change was made.
var ErrEmpty = errors.New("journal is empty")

// Read loads the journal at path. A torn last line, left by a crash in the
// middle of a write, is ignored: its change was never made. Any other line
// that is not a JSON record makes the journal corrupt.
func Read(path string) (*Entry, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("journal %s: larger than %d bytes", path, maxSize)
	}
	// Every append ends in a newline; what follows the last one is a
	// torn write.
	whole := data[:bytes.LastIndexByte(data, '\n')+1]
	if len(bytes.TrimSpace(whole)) == 0 {
		return nil, fmt.Errorf("journal %s: %w", path, ErrEmpty)
	}
	e := &Entry{Path: path}
	for i, line := range bytes.Split(bytes.TrimSuffix(whole, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			return nil, fmt.Errorf("journal %s: line %d is not a record", path, i+1)
		}
		if i == 0 {
			if err := json.Unmarshal(line, &e.Header); err != nil || e.Header.Tunnel == "" {
				return nil, fmt.Errorf("journal %s: bad header", path)
			}
			continue
		}
		e.Records = append(e.Records, json.RawMessage(bytes.Clone(line)))
	}
	return e, nil
}

// maxSize bounds what Read loads: a journal holds tens of short records.
const maxSize = 1 << 20

// TunnelOf returns the tunnel whose journal path is, by its name.
func TunnelOf(path string) string {
	return strings.TrimSuffix(filepath.Base(path), suffix)
}

// SetAside renames the journal at path out of the way of its tunnel, to
// NAME.journal.failed-TIME in the same directory, and returns the new
// path. List no longer returns it; root reads and removes it.
func SetAside(path string, now time.Time) (string, error) {
	to := path + ".failed-" + now.UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("set journal aside: %w", err)
	}
	return to, atomicfile.SyncDir(filepath.Dir(path))
}

// Replace atomically replaces the journal at path with one of the same
// tunnel, written by this process, holding recs: what is left to undo.
func Replace(path string, recs []any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(Header{Tunnel: TunnelOf(path), PID: os.Getpid()}); err != nil {
		return fmt.Errorf("encode journal header: %w", err)
	}
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode journal record: %w", err)
		}
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o600, os.Getuid(), os.Getgid()); err != nil {
		return fmt.Errorf("replace journal: %w", err)
	}
	return nil
}

// List returns the paths of the journals in dir, sorted. A missing
// directory has none.
func List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list journals: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), suffix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
