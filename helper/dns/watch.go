package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/plan"
)

// When the tunnels' DNS must go to a resolv.conf that NetworkManager also
// writes (NM's global DNS is in its own configuration files, which D-Bus
// cannot change), NM replaces the file at its next change. The helper
// then watches the file's directory with inotify while tunnels use it —
// no polling — and on every change by someone else puts the tunnels'
// file back, the other's becoming the one to restore at disconnect.
//
// Under the packaged unit the helper cannot do that: ProtectSystem=strict
// makes /etc read-only, and ReadWritePaths= makes /etc/resolv.conf
// writable by bind-mounting the file onto itself; a file renamed over it
// in the machine's namespace detaches that mount, and the new file is
// read-only to the helper. That is noticed and reported, in the log and
// in Status, instead.

// fileWatch is an inotify watch on the directory of a resolv.conf.
type fileWatch struct {
	f    *os.File
	done chan struct{}
}

// watchEvents are the changes of a directory entry that can replace or
// rewrite the file.
const watchEvents = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM

// startWatch watches path while tunnels use it, once; it also checks the
// file at once, since it may have been replaced before the first tunnel.
func (h *Host) startWatch(path string) error {
	h.mu.Lock()
	if h.watch != nil {
		h.mu.Unlock()
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		h.mu.Unlock()
		return fmt.Errorf("watch %s: %w", path, err)
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), watchEvents|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		h.mu.Unlock()
		return fmt.Errorf("watch %s: %w", filepath.Dir(path), err)
	}
	// A non-blocking descriptor goes to the runtime's poller: Close ends
	// a Read that waits.
	w := &fileWatch{f: os.NewFile(uintptr(fd), "inotify"), done: make(chan struct{})}
	h.watch = w
	h.mu.Unlock()
	go h.watchLoop(w, path)
	h.fileCheck(path)
	return nil
}

// stopWatch ends the watch, once no tunnel uses the file.
func (h *Host) stopWatch() {
	h.mu.Lock()
	w := h.watch
	h.watch, h.replaced = nil, ""
	h.mu.Unlock()
	if w != nil {
		w.f.Close()
		<-w.done
	}
}

// watchLoop checks the file after each batch of events on its name.
func (h *Host) watchLoop(w *fileWatch, path string) {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	base := filepath.Base(path)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				h.Logger.Printf("watch %s: %v", path, err)
			}
			return
		}
		if namesIn(buf[:n], base) {
			h.fileCheck(path)
		}
	}
}

// namesIn reports whether one of the inotify events in b is about name,
// or is an overflow (events were lost: check anyway).
func namesIn(b []byte, name string) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:8])
		l := int(binary.NativeEndian.Uint32(b[12:16]))
		if unix.SizeofInotifyEvent+l > len(b) {
			return true
		}
		raw := b[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+l]
		if i := indexNUL(raw); i >= 0 {
			raw = raw[:i]
		}
		if mask&unix.IN_Q_OVERFLOW != 0 || string(raw) == name {
			return true
		}
		b = b[unix.SizeofInotifyEvent+l:]
	}
	return false
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// fileCheck puts the tunnels' file back when someone else rewrote it,
// or reports that it cannot.
func (h *Host) fileCheck(path string) {
	restored := false
	err := h.fileTx(path, func(st *fileState, cur plan.FileState) (*fileState, error) {
		if st == nil || st.ours(cur) {
			return nil, nil
		}
		h.adoptIfForeign(st, cur)
		restored = true
		return st, nil
	})
	h.mu.Lock()
	first := h.replaced == ""
	switch {
	case err != nil:
		h.replaced = "replaced by another program, likely NetworkManager: the tunnel's servers are not in effect"
	case restored:
		h.replaced = ""
	}
	h.mu.Unlock()
	switch {
	case err != nil && first:
		// Once: the other program may rewrite it again and again.
		h.Logger.Printf("%s was replaced by another program (NetworkManager?) and cannot be put back: queries go to that program's servers, not the tunnel's: %v", path, err)
	case restored:
		h.Logger.Printf("put the tunnels' servers back in %s", path)
	}
}

// Note returns what Status should add to the name of manager, "" when
// nothing: the resolv.conf that tunnels use was replaced in a way the
// helper cannot undo.
func (h *Host) Note(manager string) string {
	if manager != plan.DNSFile {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.replaced
}
