package engine

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/wgtray/wgtray/helper/dns"
	"github.com/wgtray/wgtray/helper/firewall"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/wgdev"
)

// Linux is the System of the running kernel, in the network namespace of
// the calling process.
type Linux struct {
	nl      *netlink.Handle
	devices *wgdev.Manager
	logger  *log.Logger
	// SysctlDir is where sysctls are read and written, normally /proc/sys.
	sysctlDir string
	resolver  *net.Resolver
	dns       *dns.Host
	// hookTimeout bounds each hook command; DefaultHookTimeout when 0.
	hookTimeout time.Duration
	// resolveTimeout bounds one endpoint's name resolution; 10 s when 0.
	resolveTimeout time.Duration

	mu     sync.Mutex
	nft    *nftables.Conn
	tables map[string]uint64 // handles of the nftables tables this process added

	blkMu sync.Mutex
	blk   blockState
}

// NewLinux opens netlink in the current network namespace.
func NewLinux(mode wgdev.Mode, logger *log.Logger) (*Linux, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	l := &Linux{
		nl:        h,
		devices:   wgdev.NewManager(mode, h, logger),
		logger:    logger,
		sysctlDir: "/proc/sys",
		resolver:  markedResolver(),
		tables:    map[string]uint64{},
		blk:       blockState{fw: firewall.NewBlocker(true), live: map[string]plan.Block{}, kept: map[string]plan.Block{}},
	}
	l.dns = &dns.Host{ResolvConf: dns.ResolvConf, LinkIndex: l.linkIndex, Logger: logger}
	return l, nil
}

func (l *Linux) linkIndex(name string) (int, error) {
	link, err := l.nl.LinkByName(name)
	if isLinkNotFound(err) {
		return 0, fmt.Errorf("link %q: %w", name, dns.ErrNoLink)
	}
	if err != nil {
		return 0, fmt.Errorf("find link %q: %w", name, err)
	}
	return link.Attrs().Index, nil
}

// SetHookTimeout sets how long one hook command may run before it is
// killed and its step fails (DefaultHookTimeout when not set).
func (l *Linux) SetHookTimeout(d time.Duration) { l.hookTimeout = d }

// SetDNSManager makes DNS always go to one manager (see dns.ValidManager)
// instead of the first one found.
func (l *Linux) SetDNSManager(m string) error {
	if !dns.ValidManager(m) {
		return fmt.Errorf("unknown DNS manager %q (want one of systemd-resolved, NetworkManager, resolvconf, resolv.conf, off)", m)
	}
	l.dns.Manager = m
	return nil
}

// SetDNSLibDir names the durable directory (normally dns.DefaultLibDir)
// where the original /etc/resolv.conf is kept while tunnels use it.
// Without one, the resolv.conf fallback fails instead of keeping the
// original only in memory and the journal.
func (l *Linux) SetDNSLibDir(dir string) { l.dns.LibDir = dir }

// RecoverDNS puts /etc/resolv.conf back as it was before tunnels whose
// helper is gone (a crash, a power cut) used it; see dns.Host.Recover.
// The helper calls it at start, after Engine.Cleanup.
func (l *Linux) RecoverDNS(ctx context.Context) error {
	if err := l.dns.Recover(ctx); err != nil {
		return fmt.Errorf("recover resolv.conf: %w", err)
	}
	return nil
}

// DNSNote says what is wrong with the DNS that manager was given, for
// Status: "" when nothing is (see dns.Host.Note).
func (l *Linux) DNSNote(manager string) string { return l.dns.Note(manager) }

// Devices returns the WireGuard device manager, for reading device state.
func (l *Linux) Devices() *wgdev.Manager { return l.devices }

// Close releases netlink and closes embedded devices still open.
func (l *Linux) Close() {
	l.closeBlock()
	l.devices.Close()
	l.mu.Lock()
	if l.nft != nil {
		l.nft.CloseLasting()
		l.nft = nil
	}
	l.mu.Unlock()
	l.dns.Close()
	l.nl.Close()
}

// isLinkNotFound reports whether err is netlink's answer for a link that
// does not exist (the library maps the kernel's ENODEV to it).
func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}
