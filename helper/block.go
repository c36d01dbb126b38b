package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/firewall"
	topts "github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/helper/wanted"
	"github.com/wgtray/wgtray/helper/wgdev"
)

// startBlocks brings the block to what this helper holds at start:
// lockdown if it is on, and the blocks earlier helpers kept; then it
// watches the table and puts it back when another program removes it.
func startBlocks(ctx context.Context, sys *engine.Linux, e *engine.Engine, opts *topts.Store, srv *daemon.Server, logger *log.Logger) error {
	var errs []error
	m, err := opts.MachineValues()
	if err != nil {
		errs = append(errs, err)
	}
	on := m.Bool(topts.Machine, topts.Lockdown, false)
	lan := m.Bool(topts.Machine, topts.LockdownAllowLAN, true)
	if on {
		// First, so that the table never lacks lockdown's block.
		errs = append(errs, e.SetLockdown(ctx, true, lan))
	}
	errs = append(errs, e.AdoptBlocks(ctx))
	// Again, now with the kept blocks: the table matches what this helper
	// holds, and one that nothing holds any more goes.
	errs = append(errs, e.SetLockdown(ctx, on, lan))
	if !sys.BlockOwned() {
		logger.Print("the block's nftables table is not owned (kernel without NFT_TABLE_F_PERSIST, or --nft-owner=false): another program can delete it, and the helper puts it back")
	}
	errs = append(errs, sys.WatchBlock(func(r firewall.Repair) {
		msg := fmt.Sprintf("another program deleted or flushed nftables table inet wgtray; put back %.1f ms after the change was seen", float64(r.Took.Microseconds())/1000)
		if r.Error != nil {
			msg = fmt.Sprintf("another program deleted or flushed nftables table inet wgtray, and putting it back failed: %v", r.Error)
		}
		srv.BlockRepaired(msg)
	}))
	return errors.Join(errs...)
}

// blockMode runs --load-lockdown or --remove-block.
func blockMode(o options, mode wgdev.Mode, logger *log.Logger) int {
	if os.Geteuid() != 0 {
		logger.Print("must run as root")
		return 1
	}
	sys, err := engine.NewLinux(mode, logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer sys.Close()
	sys.SetBlockOwner(o.nftOwner)
	opts, err := topts.OpenStore(o.configDir, o.libDir)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer opts.Close()
	if o.removeBlock {
		var errs []error
		// Only when on: a removal must not leave an options file behind
		// where there was none.
		if m, err := opts.MachineValues(); err != nil || m.Bool(topts.Machine, topts.Lockdown, false) {
			if err := opts.SetMachine(topts.Lockdown, topts.Off); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, sys.RemoveBlock())
		// The package goes: no tunnel is wanted up any more.
		errs = append(errs, wanted.Forget(o.libDir))
		// The blocks that tunnels kept are gone with the table.
		if ents, err := os.ReadDir(o.journalDir); err == nil {
			for _, ent := range ents {
				if strings.HasSuffix(ent.Name(), ".block") {
					errs = append(errs, os.Remove(filepath.Join(o.journalDir, ent.Name())))
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			logger.Print(err)
			return 1
		}
		logger.Print("removed the kill switch's and lockdown's block; lockdown is off")
		return 0
	}
	m, err := opts.MachineValues()
	if err != nil {
		// Unreadable: lockdown's default, off. Blocking on a guess could
		// strand the machine with no helper to lift it.
		logger.Print(err)
		return 1
	}
	if !m.Bool(topts.Machine, topts.Lockdown, false) {
		return 0
	}
	if err := sys.LoadLockdown(m.Bool(topts.Machine, topts.LockdownAllowLAN, true)); err != nil {
		logger.Print(err)
		return 1
	}
	logger.Print("lockdown: traffic outside a tunnel is blocked until wgtray-helper connects one")
	return 0
}
