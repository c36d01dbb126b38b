package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/plan"
)

// A package upgrade renames a new binary over the helper's while the old
// one runs on, with its tunnels: stopping it would drop them. Instead the
// helper notices that its executable was replaced and, at the first moment
// no tunnel is up or coming up, releases its bus name and exits 0; the next
// call's D-Bus activation starts the new binary. While a tunnel is up it
// serves on, and exits after the last one is down.

// errReplaced refuses a Connect that arrives after the helper decided to
// exit for its replaced executable, before the bus stopped routing calls
// to it.
var errReplaced = errors.New("wgtray-helper was upgraded and this old one is exiting: connect again to start the new one")

// upgrade decides when the helper exits for an upgrade.
type upgrade struct {
	gate   *upgradeGate
	exe    *exeWatch // nil if the executable's path is unknown
	logger *log.Logger
	poke   chan struct{} // cap 1: a moment to check (the file changed, a tunnel settled)

	replaced bool // the executable was seen replaced (for good)
	noted    bool // the wait for the last tunnel was logged
}

// newUpgrade watches the executable and wraps e in the gate the server
// must be given instead of e.
func newUpgrade(e daemon.Engine, logger *log.Logger) *upgrade {
	u := &upgrade{logger: logger, poke: make(chan struct{}, 1)}
	u.gate = &upgradeGate{Engine: e, settled: u.poke}
	exe, err := watchExe(u.poke)
	if err != nil {
		logger.Printf("upgrade watch: %v: a new executable is noticed only when a tunnel goes down", err)
	}
	u.exe = exe
	u.poke <- struct{}{} // a first check: replaced before the watch began
	return u
}

// Poke receives at each moment the helper may have to exit.
func (u *upgrade) Poke() <-chan struct{} { return u.poke }

// Retire reports whether the helper should exit now: its executable was
// replaced and no tunnel is up or coming up. From then on the gate refuses
// every Up, so that none comes up in a helper on its way out.
func (u *upgrade) Retire() bool {
	if u.exe == nil {
		return false
	}
	if !u.replaced {
		if u.replaced = u.exe.Replaced(); !u.replaced {
			return false
		}
	}
	if u.gate.closeIfIdle() {
		u.logger.Printf("%q was replaced and no tunnel is up: exiting, so that the next call starts the new one", u.exe.path)
		return true
	}
	if !u.noted {
		u.noted = true
		u.logger.Printf("%q was replaced: exiting after the last tunnel is down", u.exe.path)
	}
	return false
}

// Close stops watching.
func (u *upgrade) Close() {
	if u.exe != nil {
		u.exe.Close()
	}
}

// upgradeGate is the engine as the server sees it: it counts the Ups in
// progress, tells when one ends or a tunnel goes down, and once closed
// refuses every Up.
type upgradeGate struct {
	daemon.Engine
	settled chan<- struct{} // cap 1

	mu     sync.Mutex
	ups    int // Ups in progress
	closed bool
}

// Up brings a tunnel up through the engine, unless the gate is closed.
func (g *upgradeGate) Up(ctx context.Context, link string, cfg *config.Config) (*plan.Plan, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, errReplaced
	}
	g.ups++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.ups--
		g.mu.Unlock()
		g.tell()
	}()
	return g.Engine.Up(ctx, link, cfg)
}

// Observe passes the engine's changes on to f, and tells of every tunnel
// that went down.
func (g *upgradeGate) Observe(f func(engine.Change)) {
	g.Engine.Observe(func(ch engine.Change) {
		f(ch)
		if ch.Phase == engine.Down {
			g.tell()
		}
	})
}

func (g *upgradeGate) tell() {
	select {
	case g.settled <- struct{}{}:
	default: // a check is due already
	}
}

// closeIfIdle closes the gate, and reports true, if no tunnel is up and
// none is coming up. A tunnel going down meanwhile is not up: the
// helper's stop waits for it.
func (g *upgradeGate) closeIfIdle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ups > 0 || len(g.Engine.Active()) > 0 {
		return false
	}
	g.closed = true
	return true
}

// exeWatch tells whether the helper's executable file was replaced. It
// watches the file's directory with inotify, so that nothing runs while
// nothing changes there: no polling.
type exeWatch struct {
	path    string // the executable's path when the helper started
	running fileID // the file this process runs (/proc/self/exe)
	inotify *os.File
	done    chan struct{} // closed when the reader has returned
}

// fileID identifies a file.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{st.Dev, st.Ino}, nil
}

// watchExe starts watching the executable's directory and sends on notify
// (without blocking) when a file of the executable's name appears there.
// It returns a watch whose Replaced works even when the inotify watch
// cannot be made (the error says why); nil if the executable is unknown.
func watchExe(notify chan<- struct{}) (*exeWatch, error) {
	path, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the executable: %w", err)
	}
	running, err := statID("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("stat the executable: %w", err)
	}
	w := &exeWatch{path: path, running: running, done: make(chan struct{})}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		close(w.done)
		return w, fmt.Errorf("inotify: %w", err)
	}
	// A rename over the file (dpkg, rpm), a new file after an unlink
	// (install(1)), a copy finished.
	const mask = unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_CLOSE_WRITE | unix.IN_ONLYDIR
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), mask); err != nil {
		unix.Close(fd)
		close(w.done)
		return w, fmt.Errorf("inotify watch %q: %w", filepath.Dir(path), err)
	}
	// Non-blocking, so the runtime's poller waits for it and Close ends
	// a Read in progress.
	w.inotify = os.NewFile(uintptr(fd), "inotify")
	go w.read(filepath.Base(path), notify)
	return w, nil
}

// read sends on notify for every event about the executable's name, and
// for a queue overflow (which may have dropped one), until Close.
func (w *exeWatch) read(name string, notify chan<- struct{}) {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.inotify.Read(buf)
		if err != nil {
			return // closed
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if off+unix.SizeofInotifyEvent+int(ev.Len) > n {
				break // the kernel returns whole events: not reached
			}
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 || unix.ByteSliceToString(nameBytes) == name {
				select {
				case notify <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Replaced reports whether the executable's path now names another file
// than the one this process runs. A path that is gone is no replacement:
// there is no new helper to start.
func (w *exeWatch) Replaced() bool {
	now, err := statID(w.path)
	return err == nil && now != w.running
}

// Close stops the watch and waits for its reader.
func (w *exeWatch) Close() {
	if w.inotify != nil {
		w.inotify.Close()
	}
	<-w.done
}
