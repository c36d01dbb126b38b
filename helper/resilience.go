package main

import (
	"context"
	"log"
	"net"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/health"
	"github.com/wgtray/wgtray/helper/monitor"
)

// newHealth returns the health monitor of the connected tunnels, which
// reports to and heals through srv (set once the server exists: the
// server needs the monitor first).
func newHealth(o options, sys *engine.Linux, srv **daemon.Server, logger *log.Logger) *health.Monitor {
	var clock health.Clock = health.RealClock{}
	if o.healthSpeed > 1 {
		clock = health.NewFastClock(o.healthSpeed)
	}
	return health.New(health.Deps{
		Read: func(name string) ([]health.PeerSample, error) {
			dev, err := sys.Devices().Device(name)
			if err != nil {
				return nil, err
			}
			out := make([]health.PeerSample, 0, len(dev.Peers))
			for _, p := range dev.Peers {
				out = append(out, health.PeerSample{Key: p.PublicKey.String(), Rx: uint64(p.ReceiveBytes),
					Tx: uint64(p.TransmitBytes), Handshake: p.LastHandshakeTime})
			}
			return out, nil
		},
		Report: func(name string, v health.Verdict) { (*srv).HealthChanged(name, v) },
		Heal:   func(ctx context.Context, name, why string) { (*srv).Heal(ctx, name, why) },
		Clock:  clock,
		Logger: logger,
	})
}

// netEvent hands a monitor event to the routing guard and the healing.
// Changes of our tunnels' own links (their routes and addresses coming
// and going with them) are no network change.
func netEvent(ev monitor.Event, e *engine.Engine, srv *daemon.Server, hm *health.Monitor) {
	switch ev.Kind {
	case monitor.RuleDeleted:
		srv.RoutingDeleted()
	case monitor.RouteDeleted, monitor.AddrDeleted:
		srv.RoutingDeleted()
		if !ownLink(ev.Index, e) {
			hm.NetChanged()
		}
	case monitor.NetChanged:
		srv.RetryRepairs()
		if !ownLink(ev.Index, e) {
			hm.NetChanged()
		}
	case monitor.Resynced:
		srv.RoutingDeleted()
		hm.NetChanged()
	}
}

// ownLink reports whether ifindex is a tunnel's link, or no link at all
// (an unreachable route, as the leak guard adds): neither says that the
// network changed.
func ownLink(index int, e *engine.Engine) bool {
	if index == 0 {
		return true
	}
	ifc, err := net.InterfaceByIndex(index)
	if err != nil {
		return false // gone: someone's link went away
	}
	return e.State(ifc.Name).Phase != engine.Down
}

// logind's names: PrepareForSleep(false) says the machine has resumed.
const (
	logindName      = "org.freedesktop.login1"
	logindPath      = dbus.ObjectPath("/org/freedesktop/login1")
	logindInterface = "org.freedesktop.login1.Manager"
)

// watchSleep heals every connected tunnel when logind says the machine
// resumed, until ctx ends. Without logind the health monitor's clock
// check does the same. It returns once subscribed.
func watchSleep(ctx context.Context, conn *dbus.Conn, hm *health.Monitor, logger *log.Logger) {
	rule := []dbus.MatchOption{dbus.WithMatchSender(logindName), dbus.WithMatchObjectPath(logindPath),
		dbus.WithMatchInterface(logindInterface), dbus.WithMatchMember("PrepareForSleep")}
	sctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	if err := conn.AddMatchSignalContext(sctx, rule...); err != nil {
		logger.Printf("watch logind's PrepareForSleep: %v", err)
		return
	}
	sigs := make(chan *dbus.Signal, 8)
	conn.Signal(sigs)
	go func() {
		defer conn.RemoveSignal(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == nil || s.Name != logindInterface+".PrepareForSleep" || s.Path != logindPath || len(s.Body) != 1 {
					continue
				}
				if sleeping, ok := s.Body[0].(bool); !ok || sleeping || !fromOwner(ctx, conn, s.Sender) {
					continue
				}
				logger.Print("logind: resumed from sleep; healing the connected tunnels")
				hm.Wake("resumed from sleep")
			}
		}
	}()
}

// fromOwner reports whether sender owns logind's name: a signal sent to
// us directly passes no match rule, and anyone may send one.
func fromOwner(ctx context.Context, conn *dbus.Conn, sender string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var owner string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, logindName).Store(&owner); err != nil {
		return false
	}
	return owner == sender
}
