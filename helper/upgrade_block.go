package main

import (
	"context"

	"github.com/wgtray/wgtray/helper/daemon"
)

// The gate passes the kill switch through to the engine: blocks are no
// reason to keep an old binary running, since the next helper adopts
// them.

var _ daemon.Blocker = (*upgradeGate)(nil)

func (g *upgradeGate) blocker() daemon.Blocker { return g.Engine.(daemon.Blocker) }

// SetKillSwitch is the engine's.
func (g *upgradeGate) SetKillSwitch(ctx context.Context, link string, on, allowLAN bool) error {
	return g.blocker().SetKillSwitch(ctx, link, on, allowLAN)
}

// Unblock is the engine's.
func (g *upgradeGate) Unblock(ctx context.Context, link string) error {
	return g.blocker().Unblock(ctx, link)
}

// SetLockdown is the engine's.
func (g *upgradeGate) SetLockdown(ctx context.Context, on, allowLAN bool) error {
	return g.blocker().SetLockdown(ctx, on, allowLAN)
}

// Blocking is the engine's.
func (g *upgradeGate) Blocking() bool { return g.blocker().Blocking() }

// TunnelBlocking is the engine's.
func (g *upgradeGate) TunnelBlocking(link string) bool { return g.blocker().TunnelBlocking(link) }

// DownKeep is the engine's.
func (g *upgradeGate) DownKeep(ctx context.Context, link, why string) error {
	return g.blocker().DownKeep(ctx, link, why)
}
