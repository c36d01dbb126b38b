package tray

import "github.com/wgtray/wgtray/ipc"

// setHealth records a tunnel's health as the helper judges it, from its
// HealthChanged signal or its Status, and announces a stall once, and
// its end.
func (a *App) setHealth(t *Tunnel, h ipc.Health, peer string, since int64) {
	t.Health, t.HealthPeer, t.HealthSince = h, peer, since
	stalled := t.Stalled()
	if stalled == a.stalled[t.Name] {
		return
	}
	if stalled {
		a.notify(noticeStalled(*t))
		a.stalled[t.Name] = true
		return
	}
	delete(a.stalled, t.Name)
	if t.State == ipc.StateConnected {
		a.notify(noticeRestored(t.Name))
	}
}

// clearHealth forgets a tunnel's health when it is no longer connected:
// a stall ends with its connection, which StateChanged announces.
func (a *App) clearHealth(t *Tunnel) {
	t.Health, t.HealthPeer, t.HealthSince = "", "", 0
	delete(a.stalled, t.Name)
}
