package dns

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/plan"
)

// ResolvConf is where the C library reads its resolver configuration.
const ResolvConf = "/etc/resolv.conf"

// Host applies DNS settings on this machine.
type Host struct {
	// ResolvConf is the file managed when nothing else manages DNS,
	// normally ResolvConf.
	ResolvConf string
	// LinkIndex returns the interface index of a link, for
	// systemd-resolved's per-link settings; ErrNoLink when it is gone.
	LinkIndex func(name string) (int, error)
	Logger    *log.Logger
	// Manager, when set, is the only manager used ("off" for none)
	// instead of the first one found.
	Manager string
	// LibDir is the durable directory (normally DefaultLibDir) where the
	// original resolv.conf is kept while tunnels use the file; without it
	// the file is not used.
	LibDir string
	// Timeout bounds every resolvconf run and every D-Bus call, whatever
	// the caller's context allows: DefaultTimeout when 0.
	Timeout time.Duration
	// Resolvconf is the resolvconf program: "resolvconf", looked up on
	// PATH, when empty.
	Resolvconf string

	mu  sync.Mutex
	bus *dbus.Conn
	// nmAPI, when set, stands for NetworkManager's global DNS in tests.
	nmAPI globalDNSAPI
	// watch watches resolv.conf while tunnels share it with another
	// manager; replaced is set when that manager replaced the file in a
	// way the helper cannot undo (see fileWatch).
	watch    *fileWatch
	replaced string
	// nmWait, while set, ends nmAwait's wait for NetworkManager.
	nmWait chan struct{}
}

// DefaultTimeout is how long a resolvconf run or a D-Bus call may take:
// a hung one must fail the step, not stall the helper.
const DefaultTimeout = 10 * time.Second

// ValidManager reports whether m is a value of Host.Manager: "" picks
// the first manager found.
func ValidManager(m string) bool {
	switch m {
	case "", plan.DNSResolved, plan.DNSNetworkManager, plan.DNSResolvconf, plan.DNSFile, plan.DNSOff:
		return true
	}
	return false
}

// ErrNoLink is what LinkIndex returns for a link that does not exist.
var ErrNoLink = errors.New("no such link")

// Close ends the watch on resolv.conf and closes the system bus
// connection, if one was opened.
func (h *Host) Close() {
	h.stopWatch()
	h.nmStopAwait()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bus != nil {
		h.bus.Close()
		h.bus = nil
	}
}

// Facts finds the DNS manager, in the order systemd-resolved (running on
// the system bus), NetworkManager (running and writing resolv.conf
// itself), resolvconf (on PATH), the file itself; and reads what the
// chosen one needs.
func (h *Host) Facts(ctx context.Context) (plan.DNSFacts, error) {
	switch h.Manager {
	case "", plan.DNSResolved:
		if h.resolvedRunning(ctx) {
			return plan.DNSFacts{Manager: plan.DNSResolved}, nil
		}
		if h.Manager != "" {
			return plan.DNSFacts{}, fmt.Errorf("systemd-resolved is not running")
		}
	case plan.DNSOff:
		return plan.DNSFacts{Manager: plan.DNSOff}, nil
	}
	switch h.Manager {
	case "", plan.DNSNetworkManager:
		owns, why := h.nmOwnsResolvConf(ctx)
		if owns {
			conf := nmConfigHasGlobalDNS()
			if conf == "" {
				return plan.DNSFacts{Manager: plan.DNSNetworkManager}, nil
			}
			why = fmt.Sprintf("NetworkManager's global DNS is set in %s and cannot be changed over D-Bus", conf)
			if h.Manager == "" {
				// The file is the only way left; NM will rewrite it at
				// its next change, which the watch on it notices.
				h.Logger.Printf("%s: the tunnel's DNS goes to %s, which NetworkManager may rewrite", why, h.ResolvConf)
				return h.fileFacts(true)
			}
		}
		if h.Manager != "" {
			return plan.DNSFacts{}, errors.New(why)
		}
	}
	switch h.Manager {
	case "", plan.DNSResolvconf:
		path, err := exec.LookPath(h.resolvconfProgram())
		if err == nil {
			return plan.DNSFacts{Manager: plan.DNSResolvconf, ResolvconfPrefix: resolvconfPrefix(path)}, nil
		}
		if h.Manager != "" {
			return plan.DNSFacts{}, fmt.Errorf("resolvconf: %w", err)
		}
	}
	return h.fileFacts(false)
}

// fileFacts are the facts of the resolv.conf fallback; nmOwned says that
// NetworkManager writes the file too.
func (h *Host) fileFacts(nmOwned bool) (plan.DNSFacts, error) {
	st, err := ReadFileState(h.ResolvConf)
	if err != nil {
		return plan.DNSFacts{}, err
	}
	return plan.DNSFacts{Manager: plan.DNSFile, ResolvConf: st, SharedFile: nmOwned}, nil
}

// Set applies d to link.
func (h *Host) Set(ctx context.Context, link string, d *plan.DNS) error {
	switch d.Manager {
	case plan.DNSResolved:
		return h.resolvedSet(ctx, link, d)
	case plan.DNSNetworkManager:
		return h.nmSet(ctx, link, d)
	case plan.DNSResolvconf:
		return h.resolvconfAdd(ctx, d)
	case plan.DNSFile:
		return h.fileSet(link, d)
	}
	return fmt.Errorf("unknown DNS manager %q", d.Manager)
}

// Revert takes d back. It is idempotent: what is already gone is fine.
func (h *Host) Revert(ctx context.Context, link string, d *plan.DNS) error {
	switch d.Manager {
	case plan.DNSResolved:
		return h.resolvedRevert(ctx, link)
	case plan.DNSNetworkManager:
		return h.nmRevert(ctx, link)
	case plan.DNSResolvconf:
		return h.resolvconfDelete(ctx, d)
	case plan.DNSFile:
		return h.fileRevert(link, d)
	}
	return fmt.Errorf("unknown DNS manager %q", d.Manager)
}

// Recover is for the helper's start, once the journals of a dead helper
// are undone: tunnels still in resolv.conf whose helper is gone — a power
// cut wipes the journals in /run but not the durable original — leave
// it, and the original comes back if no tunnel is left and the file
// still holds what the helper wrote. NetworkManager's global DNS is
// recovered the same way. systemd-resolved forgets a link's settings with
// the link, and resolvconf's records live in /run: neither needs it.
func (h *Host) Recover(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(h.fileRecover(), h.nmRecover(ctx))
}

// withTimeout bounds ctx by Timeout.
func (h *Host) withTimeout(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	d := h.timeout()
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, d
}

// timeout is Timeout, DefaultTimeout when 0.
func (h *Host) timeout() time.Duration {
	if h.Timeout <= 0 {
		return DefaultTimeout
	}
	return h.Timeout
}

// timedOut makes err say so when it is ctx's own deadline that ended the
// call, not the caller's cancellation.
func timedOut(ctx context.Context, d time.Duration, err error) error {
	switch {
	case !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("timed out after %v: %w", d, err)
	}
	return fmt.Errorf("timed out after %v (%v): %w", d, err, context.DeadlineExceeded)
}

// systemBus returns the helper's own connection to the system bus,
// opened on first use.
func (h *Host) systemBus() (*dbus.Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bus != nil && h.bus.Connected() {
		return h.bus, nil
	}
	c, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	h.bus = c
	return c, nil
}

var ifaceOrderLine = regexp.MustCompile(`^([A-Za-z0-9-]+)\*$`)

// resolvconfPrefix is wg-quick's resolvconf_iface_prefix: with Debian's
// resolvconf, the first wildcard of /etc/resolvconf/interface-order
// ("tun*" gives "tun.") places the tunnel's servers before the others.
// systemd's resolvconf, a link to resolvectl, has no such order.
func resolvconfPrefix(path string) string {
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		return ""
	}
	data, err := os.ReadFile("/etc/resolvconf/interface-order")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if m := ifaceOrderLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			return m[1] + "."
		}
	}
	return ""
}
