package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/diagnose"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/monitor"
	"github.com/wgtray/wgtray/helper/networkmanager"
	topts "github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/helper/spans"
	"github.com/wgtray/wgtray/helper/store"
	"github.com/wgtray/wgtray/helper/wanted"
	"github.com/wgtray/wgtray/ipc"
)

// shutdownTimeout bounds taking every tunnel down once the helper was told
// to stop, so that it exits within 15 s of SIGTERM; a change that does not
// end by then is left to --cleanup (systemd's ExecStopPost).
const shutdownTimeout = 10 * time.Second

// serve runs the D-Bus service until ctx ends, then takes every tunnel
// down.
func serve(ctx context.Context, o options, sys *engine.Linux, e *engine.Engine, logger *log.Logger, stdout io.Writer) error {
	st, err := store.Open(o.configDir)
	if err != nil {
		return err
	}
	opts, err := topts.OpenStore(o.configDir, o.libDir)
	if err != nil {
		return err
	}
	defer opts.Close()
	// dbus.ConnectSystemBus honours DBUS_SYSTEM_BUS_ADDRESS. A private
	// connection: nothing else in the process shares it.
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()
	up := newUpgrade(e, logger)
	defer up.Close()
	wants, err := wanted.Open(o.libDir)
	if err != nil {
		logger.Printf("tunnels wanted up: %v; starting with none", err)
	}
	// NetworkManager, when it runs, leaves our links alone.
	nmc, err := networkmanager.Start(ctx, conn, func(link string) bool { return e.State(link).Phase != engine.Down }, e.Active, logger)
	if err != nil {
		logger.Printf("NetworkManager: %v", err)
	} else {
		defer nmc.Close()
	}
	var srv *daemon.Server
	hm := newHealth(o, sys, &srv, logger)
	defer hm.Close()
	deps := daemon.Deps{
		Conn:         conn,
		Engine:       up.gate,
		Store:        st,
		Devices:      sys.Devices(),
		Links:        sys,
		Options:      opts,
		Auth:         &daemon.Polkit{Conn: conn},
		Logger:       logger,
		Version:      Version,
		AllowScripts: o.allowScripts,
		Diagnoser:    diagnose.NewGatherer(diagBus(conn), logger),
		NoLeakGuard:  !o.leakGuard,
		Health:       hm,
		Repair:       e,
		Healer:       sys,
		Problems:     hm,
		Timing:       os.Getenv(spans.Env) == "1",
		DNS:          sys,
	}
	if nmc != nil {
		deps.Claimer = nmc
	}
	if wants != nil { // nil only when the boot ID cannot be read
		deps.Wanted = wants
	}
	srv = daemon.New(ctx, deps)
	// Kill switch and lockdown before the name is on the bus: a kept
	// block is adopted, and Blocking is true from the first answer.
	e.SetTunnelOptions(srv.TunnelSettings)
	if err := startBlocks(ctx, sys, e, opts, srv, logger); err != nil {
		logger.Print(err)
	}
	if err := srv.Export(); err != nil {
		return err
	}
	mon, err := monitor.New(func(ev monitor.Event) {
		switch ev.Kind {
		case monitor.LinkDeleted:
			srv.LinkGone(ev.Link)
		case monitor.Resynced:
			// Deletions may have gone unseen: check every tunnel's link.
			for _, name := range e.Active() {
				srv.LinkGone(name)
			}
		}
		netEvent(ev, e, srv, hm)
	}, func(err error) { logger.Printf("link watch: %v", err) })
	if err != nil {
		return err
	}
	defer mon.Close() // on the early returns; Close may be called twice
	watchSleep(ctx, conn, hm, logger)
	logger.Printf("ready: %s on the system bus, configs in %q", ipc.BusName, o.configDir)
	// After the start-up cleanup (withEngine), with the name owned so
	// that clients see the tunnels come up.
	go srv.Restore(ctx)
	// SIGUSR1, which only root can send to this process, prints debug
	// counts on stdout: the tests check for goroutine leaks with it.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
serving:
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-usr1:
			// The health clock too: a test that runs it fast waits on it.
			fmt.Fprintf(stdout, "debug: goroutines=%d health-clock=%d\n", runtime.NumGoroutine(), hm.Now().Unix())
		case <-up.Poke():
			if up.Retire() {
				// At once: the bus then sends the next call's activation
				// to the new binary, and no more Connects to this one.
				conn.ReleaseName(ipc.BusName)
				break serving
			}
		}
	}
	// Stop watching before Shutdown, so that our own deletions are not
	// handled as a tunnel's interface vanishing.
	mon.Close()
	hm.Close() // no heal runs while the tunnels go down
	logger.Print("stopping: taking every tunnel down")
	// ctx has ended, and with it every change in progress; Shutdown waits
	// for them to roll back, but no longer than its deadline, so that
	// SIGTERM ends the helper within systemd's patience whatever runs.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	conn.ReleaseName(ipc.BusName)
	return nil
}

// diagBus is the system bus connection Diagnose asks about the other
// network tools and systemd-resolved on: the helper's own.
func diagBus(conn *dbus.Conn) func() (*dbus.Conn, error) {
	return func() (*dbus.Conn, error) { return conn, nil }
}
