package wgdev

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"

	// wireguard-go's UAPI package, not ours (package ipc is the D-Bus
	// contract): the alias keeps the two apart.
	wgipc "golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// Manager creates, configures and deletes WireGuard devices. It owns the
// embedded devices it creates; they live as long as the process.
type Manager struct {
	mode   Mode
	logger *log.Logger
	nl     *netlink.Handle

	mu       sync.Mutex
	noKernel bool // Auto found no kernel support once; don't ask again
	user     map[string]*userDevice
	kernel   map[string]int // kernel links this process created, by ifindex
	ctrl     *wgctrl.Client
	release  *time.Timer // pending releaseSoon
	limits   MemoryLimits
}

type userDevice struct {
	dev  *device.Device
	uapi net.Listener
	done chan struct{} // closed when the UAPI accept loop has returned
}

// NewManager returns a Manager for mode. Errors of embedded devices go to
// logger.
func NewManager(mode Mode, nl *netlink.Handle, logger *log.Logger) *Manager {
	return &Manager{mode: mode, nl: nl, logger: logger, user: map[string]*userDevice{}, kernel: map[string]int{}}
}

// Create makes the device name and returns its link's ifindex. In Auto
// mode it tries the kernel first, as wg-quick does, and remembers a
// failure so that later tunnels go straight to the embedded device. A link
// of that name that exists already is an error wrapping os.ErrExist: it is
// someone else's.
func (m *Manager) Create(name string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == Kernel || (m.mode == Auto && !m.noKernel) {
		err := m.nl.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: name}})
		if err == nil {
			l, err := m.nl.LinkByName(name)
			if err != nil {
				return 0, fmt.Errorf("find the new link %q: %w", name, err)
			}
			m.kernel[name] = l.Attrs().Index
			return l.Attrs().Index, nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return 0, fmt.Errorf("create kernel WireGuard link %q: %w", name, err)
		}
		if m.mode == Kernel {
			return 0, ErrNoKernelSupport
		}
		m.noKernel = true
	}
	if err := m.createUserspace(name); err != nil {
		return 0, err
	}
	l, err := m.nl.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("find the new link %q: %w", name, err)
	}
	return l.Attrs().Index, nil
}

func (m *Manager) createUserspace(name string) error {
	if _, ok := m.user[name]; ok {
		return fmt.Errorf("embedded WireGuard device %q: %w", name, os.ErrExist)
	}
	// The link must not exist: TUNSETIFF would otherwise attach to an
	// existing tun device of that name, someone else's.
	if _, err := m.nl.LinkByName(name); err == nil {
		return fmt.Errorf("create embedded WireGuard device: link %q: %w", name, os.ErrExist)
	}
	tdev, err := tun.CreateTUN(name, device.DefaultMTU)
	if err != nil {
		return fmt.Errorf("create TUN %q: %w", name, err)
	}
	uapiFile, err := uapiOpen(name)
	if err != nil {
		tdev.Close()
		return fmt.Errorf("open UAPI socket for %q: %w", name, err)
	}
	uapi, err := wgipc.UAPIListen(name, uapiFile)
	uapiFile.Close()
	if err != nil {
		tdev.Close()
		os.Remove(uapisock.Path(name))
		return fmt.Errorf("listen on UAPI socket for %q: %w", name, err)
	}
	prefix := fmt.Sprintf("wireguard %q: ", name)
	logger := &device.Logger{
		Verbosef: device.DiscardLogf,
		Errorf:   newErrLog(func(format string, args ...any) { m.logger.Printf(prefix+format, args...) }).Errorf,
	}
	ud := &userDevice{
		dev:  device.NewDevice(tdev, conn.NewDefaultBind(), logger),
		uapi: uapi,
		done: make(chan struct{}),
	}
	go func() {
		defer close(ud.done)
		for {
			c, err := uapi.Accept()
			if err != nil {
				return
			}
			go ud.dev.IpcHandle(c)
		}
	}()
	m.user[name] = ud
	m.applyLimitLocked()
	return nil
}

// Configure applies cfg to the device: an embedded device directly, as
// its UAPI socket would (a socket round trip and wgctrl's search for the
// device cost milliseconds), a kernel one through wgctrl.
func (m *Manager) Configure(name string, cfg wgtypes.Config) error {
	m.mu.Lock()
	ud := m.user[name]
	m.mu.Unlock()
	if ud != nil {
		if err := ud.dev.IpcSet(uapiSet(cfg)); err != nil {
			return fmt.Errorf("configure WireGuard device %q: %w", name, err)
		}
		return nil
	}
	c, err := m.client()
	if err != nil {
		return err
	}
	if err := c.ConfigureDevice(name, cfg); err != nil {
		return fmt.Errorf("configure WireGuard device %q: %w", name, err)
	}
	return nil
}

// Device reads the device's state through wgctrl.
func (m *Manager) Device(name string) (*wgtypes.Device, error) {
	c, err := m.client()
	if err != nil {
		return nil, err
	}
	return c.Device(name)
}

func (m *Manager) client() (*wgctrl.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctrl == nil {
		c, err := wgctrl.New()
		if err != nil {
			return nil, fmt.Errorf("open wgctrl: %w", err)
		}
		m.ctrl = c
	}
	return m.ctrl, nil
}

// Delete removes the device name if it is provably the one that was
// created: an embedded device of this process, a kernel link this process
// created, or a link whose ifindex is index (recorded by a process that
// has died since; 0 when unknown). Any other link of that name is someone
// else's and is left alone. A device that does not exist is not an error;
// a stale UAPI socket left by a dead process is removed.
func (m *Manager) Delete(name string, index int) error {
	m.mu.Lock()
	ud := m.user[name]
	delete(m.user, name)
	created, ok := m.kernel[name]
	delete(m.kernel, name)
	m.mu.Unlock()
	if ud != nil {
		ud.uapi.Close()
		ud.dev.Close()
		<-ud.done
		m.releaseSoon()
		return nil
	}
	if ok {
		index = created
	}
	if l, err := m.nl.LinkByName(name); err == nil {
		if index == 0 || l.Attrs().Index != index {
			m.logger.Printf("not deleting link %q (ifindex %d): it is not the one this tunnel created (ifindex %d, 0 if unknown)", name, l.Attrs().Index, index)
			return nil
		}
		if err := m.nl.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete link %q: %w", name, err)
		}
	} else if !isNotFound(err) {
		return fmt.Errorf("look up link %q: %w", name, err)
	}
	return uapisock.RemoveStale(name)
}

// releaseDelay is how long the manager waits after the last embedded
// device closed before it gives the memory back: long enough that a
// reconnect right after a disconnect does not compete with the collector.
const releaseDelay = 2 * time.Second

// releaseSoon gives the memory of closed devices back to the system once
// no device has closed for releaseDelay (see releaseMemory). wireguard-go keeps
// pools of 64 KiB message buffers, hundreds of them after traffic, and an
// idle helper would otherwise hold them for a long time.
func (m *Manager) releaseSoon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.release != nil {
		m.release.Reset(releaseDelay)
		return
	}
	m.release = time.AfterFunc(releaseDelay, m.releaseMemory)
}

// Close closes every embedded device and the wgctrl client.
func (m *Manager) Close() {
	m.mu.Lock()
	names := make([]string, 0, len(m.user))
	for n := range m.user {
		names = append(names, n)
	}
	m.mu.Unlock()
	for _, n := range names {
		m.Delete(n, 0)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctrl != nil {
		m.ctrl.Close()
		m.ctrl = nil
	}
	if m.release != nil {
		m.release.Stop()
	}
}

// uapiOpen listens on name's UAPI socket and returns the listening file.
// It is wgipc.UAPIOpen without its leak: that function drops the listener
// it made without closing it, so its descriptor lingers until a garbage
// collection, one per tunnel brought up.
func uapiOpen(name string) (*os.File, error) {
	if err := os.MkdirAll(uapisock.Dir, 0o755); err != nil {
		return nil, err
	}
	path := uapisock.Path(name)
	if err := uapisock.RemoveStale(name); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Only root may configure the device through it.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	f, err := l.File()
	// The duplicate in f keeps the socket listening; the path must stay.
	l.SetUnlinkOnClose(false)
	l.Close()
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}
