// Command wgtray-helper is wgtray's root helper: it brings WireGuard tunnels
// up and down exactly as wg-quick(8) does for the same configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/dns"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/wgdev"
	"github.com/wgtray/wgtray/ipc"
)

// The helper's soft memory limits (GOMEMLIMIT overrides both): idle, and
// while an embedded WireGuard device exists (see wgdev.MemoryLimits).
// Under load the device's RSS peaked 16 MiB below the active limit in
// the bench (88 MiB at 104, 112 at 128), below the 128 MiB target, where
// a plain wireguard-go reaches 200 MiB and more. At 104 MiB the collector
// ran 49 times a second under load and took about a tenth of the
// helper's CPU in the download profile (findObject, sweeping, page
// faults and TLB shootdowns of returned pages): 120 MiB leaves the live
// heap more room.
const (
	memoryLimit       = 64 << 20
	memoryLimitDevice = 120 << 20
)

// Version is set at link time by the Makefile.
var Version = "dev"

const usage = `Usage:
  wgtray-helper [flags]
        run the D-Bus service org.wgtray.Helper1 on the system bus (or the
        bus DBUS_SYSTEM_BUS_ADDRESS names) until SIGINT or SIGTERM, which
        take every tunnel down
  wgtray-helper [flags] up NAME|FILE.conf
        bring a tunnel up and keep it up until SIGINT or SIGTERM, then take it
        down; NAME is read from the config directory
  wgtray-helper [flags] --cleanup
        undo whatever a helper that died left behind, then exit; a kill
        switch's block is kept
  wgtray-helper [flags] --load-lockdown
        if lockdown is on, put its block in place and exit (the early-boot
        unit wgtray-lockdown.service)
  wgtray-helper [flags] --remove-block
        remove the kill switch's and lockdown's block, whoever holds it,
        and turn lockdown off (package removal; the way out by hand)
  wgtray-helper --version

Flags:
`

type options struct {
	configDir    string
	journalDir   string
	libDir       string
	wireguard    string
	allowScripts bool
	leakGuard    bool
	dns          string
	cleanup      bool
	loadLockdown bool
	removeBlock  bool
	nftOwner     bool
	version      bool
	hookTimeout  time.Duration
	healthSpeed  float64
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("wgtray-helper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configDir, "config-dir", "/etc/wireguard", "directory of the tunnels' wg-quick `configs`")
	fs.StringVar(&o.journalDir, "journal-dir", "/run/wgtray", "`directory` of the journals of applied changes")
	// The name of earlier releases, kept so that existing units and
	// scripts go on working.
	fs.StringVar(&o.journalDir, "state-dir", "/run/wgtray", "the same as -journal-dir (an older `name`)")
	fs.StringVar(&o.libDir, "lib-dir", dns.DefaultLibDir, "durable `directory` where the original /etc/resolv.conf is kept while tunnels use it")
	fs.StringVar(&o.wireguard, "wireguard", "auto", "WireGuard implementation: `auto`, kernel or userspace")
	fs.BoolVar(&o.allowScripts, "allow-scripts", false, "run the configs' PreUp/PostUp/PreDown/PostDown hooks (as root!)")
	fs.BoolVar(&o.leakGuard, "leak-guard", true, "block the address family a one-family full tunnel does not carry (-leak-guard=false: wg-quick's behaviour)")
	fs.StringVar(&o.dns, "dns", "auto", "where configs' DNS goes: `auto` (systemd-resolved, else NetworkManager when it writes /etc/resolv.conf, else resolvconf, else /etc/resolv.conf), systemd-resolved, NetworkManager, resolvconf, resolv.conf or off")
	fs.DurationVar(&o.hookTimeout, "hook-timeout", engine.DefaultHookTimeout, "kill a hook command (its whole process group) that runs longer than `duration`, and fail its step")
	fs.Float64Var(&o.healthSpeed, "health-speed", 1, "run the health monitor's clock `factor` times faster (for tests: minutes of idleness in seconds)")
	fs.BoolVar(&o.cleanup, "cleanup", false, "undo what a dead helper left behind, then exit")
	fs.BoolVar(&o.loadLockdown, "load-lockdown", false, "if lockdown is on, put its block in place, then exit")
	fs.BoolVar(&o.removeBlock, "remove-block", false, "remove the kill switch's and lockdown's block and turn lockdown off, then exit")
	fs.BoolVar(&o.nftOwner, "nft-owner", true, "make the block's nftables table owned and persistent where the kernel can (-nft-owner=false: a plain table, repaired when deleted)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "wgtray-helper", Version)
		return 0
	}
	mode, err := wgdev.ParseMode(o.wireguard)
	if err != nil {
		fmt.Fprintln(stderr, "wgtray-helper:", err)
		return 2
	}
	if o.dns == "auto" {
		o.dns = ""
	}
	if !dns.ValidManager(o.dns) {
		fmt.Fprintf(stderr, "wgtray-helper: --dns: unknown value %q (want auto, systemd-resolved, NetworkManager, resolvconf, resolv.conf or off)\n", o.dns)
		return 2
	}
	if !filepath.IsAbs(o.libDir) {
		fmt.Fprintf(stderr, "wgtray-helper: --lib-dir: %q is not an absolute path\n", o.libDir)
		return 2
	}
	logger := log.New(stderr, "wgtray-helper: ", 0)
	rest := fs.Args()
	switch {
	case (o.loadLockdown || o.removeBlock) && len(rest) == 0 && !o.cleanup:
		return blockMode(o, mode, logger)
	case o.cleanup && len(rest) == 0:
		return withEngine(o, mode, logger, func(context.Context, *engine.Linux, *engine.Engine) error { return nil })
	case len(rest) == 0:
		return withEngine(o, mode, logger, func(ctx context.Context, sys *engine.Linux, e *engine.Engine) error {
			return serve(ctx, o, sys, e, logger, stdout)
		})
	case len(rest) == 2 && rest[0] == "up" && !o.cleanup:
		return cmdUp(o, mode, logger, stdout, rest[1])
	default:
		fs.Usage()
		return 2
	}
}

// withEngine sets up the engine, undoes a dead helper's leftovers — as
// every start does — and runs fn.
func withEngine(o options, mode wgdev.Mode, logger *log.Logger, fn func(context.Context, *engine.Linux, *engine.Engine) error) int {
	if os.Geteuid() != 0 {
		logger.Print("must run as root")
		return 1
	}
	sys, err := engine.NewLinux(mode, logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// wireguard-go's buffer pools (64 KiB each, allocated in batches
		// of 128) let the heap grow far past what is live before the
		// collector runs: cycling tunnels took the helper to 300 MiB. A
		// soft limit makes it collect first; it is not a cap on traffic.
		sys.Devices().SetMemoryLimits(wgdev.MemoryLimits{Idle: memoryLimit, Active: memoryLimitDevice})
	}
	defer sys.Close()
	if err := sys.SetDNSManager(o.dns); err != nil {
		logger.Print(err)
		return 2
	}
	sys.SetHookTimeout(o.hookTimeout)
	sys.SetBlockOwner(o.nftOwner)
	sys.SetDNSLibDir(o.libDir)
	e := engine.New(sys, o.journalDir, plan.Options{AllowScripts: o.allowScripts, NoLeakGuard: !o.leakGuard}, logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A journal that cannot be undone is set aside and reported in its
	// tunnel's status: it must not lock every user out of every tunnel.
	// Only --cleanup, whose whole job it was, fails on it.
	cerr := e.Cleanup(ctx)
	if cerr != nil {
		logger.Printf("cleanup: %v", cerr)
	}
	// After the journals: a tunnel still in resolv.conf now has no helper
	// (a power cut wiped /run). A failure is logged; serving goes on.
	if err := sys.RecoverDNS(ctx); err != nil {
		logger.Print(err)
		if o.cleanup {
			return 1
		}
	}
	if err := fn(ctx, sys, e); err != nil {
		logger.Print(err)
		return 1
	}
	if cerr != nil && o.cleanup {
		return 1
	}
	return 0
}

func cmdUp(o options, mode wgdev.Mode, logger *log.Logger, stdout io.Writer, arg string) int {
	name, path := arg, filepath.Join(o.configDir, arg+".conf")
	if strings.HasSuffix(arg, ".conf") {
		path, name = arg, strings.TrimSuffix(filepath.Base(arg), ".conf")
	}
	if err := ipc.ValidName(name); err != nil {
		logger.Printf("tunnel name %q: %v", name, err)
		return 2
	}
	data, err := readConfig(path)
	if err != nil {
		logger.Print(err)
		return 1
	}
	cfg, err := config.Parse(data)
	if err != nil {
		logger.Printf("%s: %v", path, err)
		return 1
	}
	return withEngine(o, mode, logger, func(ctx context.Context, _ *engine.Linux, e *engine.Engine) error {
		p, err := e.Up(ctx, name, cfg)
		if err != nil {
			return fmt.Errorf("up %q: %w", name, err)
		}
		fmt.Fprintf(stdout, "%s is up (%d steps)\n", name, len(p.Ops))
		<-ctx.Done()
		if err := e.Down(context.Background(), name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is down\n", name)
		return nil
	})
}

func readConfig(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, ipc.MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return data, nil
}
