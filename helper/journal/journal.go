// Package journal records, before each change to the system is made, how to
// undo it. A journal is a file of JSON lines, one record a line, fsynced
// after every append, so that a helper that dies at any point leaves a
// complete list of what to undo for the next one (wgtray-helper --cleanup).
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

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

// Read loads the journal at path. A torn last line, left by a crash in the
// middle of a write, is ignored: its change was never made.
func Read(path string) (*Entry, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	e := &Entry{Path: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	first := true
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || !json.Valid(line) {
			continue
		}
		if first {
			if err := json.Unmarshal(line, &e.Header); err != nil {
				return nil, fmt.Errorf("journal %s: bad header: %w", path, err)
			}
			first = false
			continue
		}
		e.Records = append(e.Records, json.RawMessage(bytes.Clone(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	if first {
		return nil, fmt.Errorf("journal %s: empty", path)
	}
	return e, nil
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
