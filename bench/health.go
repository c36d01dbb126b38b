package main

import (
	"context"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// phaseHealth measures how long the helper takes to say ok again once a
// stopped peer is back (its WireGuard restarted with the same key, its
// sessions gone): the time the heal's handshake takes, with the backoff
// it is at. The tunnel carries a ping every 200 ms throughout.
func (b *bench) phaseHealth() {
	b.logf("health: %d times, the peer's WireGuard stopped until stalled, then started until ok", b.cfg.HealthRuns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := b.cl.Watch(ctx)
	if err != nil {
		b.tb.Fatal(err)
	}
	wait := func(h ipc.Health) time.Duration {
		start := time.Now()
		timer := time.NewTimer(2 * time.Minute)
		defer timer.Stop()
		for {
			select {
			case ev := <-events:
				if ev.Kind == ipc.EventHealth && ev.Health.Name == b.tunnel && ev.Health.Health == h {
					return time.Since(start)
				}
			case <-timer.C:
				b.tb.Fatalf("health: no %s within 2 min", h)
			}
		}
	}
	b.connect()
	wait(ipc.HealthOK)
	ping := netns.StartProc(b.tb, b.tp.Client, nil, "ping", "-q", "-i", "0.2", b.tp.InetAddr4.String())
	for range b.cfg.HealthRuns {
		b.tp.StopPeer(b.tb)
		stalled := wait(ipc.HealthStalled)
		b.s.healthStalled = append(b.s.healthStalled, ms(stalled))
		b.tp.StartPeer(b.tb)
		back := wait(ipc.HealthOK)
		b.s.healthBack = append(b.s.healthBack, ms(back))
	}
	ping.Kill()
	b.disconnect()
}
