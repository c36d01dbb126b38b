package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/engine/enginetest"
	"github.com/wgtray/wgtray/helper/plan"
)

// TestUpgradeGate is the decision to exit for an upgrade, on the fake
// machine: never while a tunnel is up or coming up (a Connect in the
// middle of its plan), and once decided, no tunnel comes up any more. The
// real helper's tests are TestUpgradeWhileIdle and TestUpgradeWithTunnelUp.
func TestUpgradeGate(t *testing.T) {
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(fmt.Appendf(nil, "[Interface]\nPrivateKey = %s\nAddress = 192.0.2.66/26\n\n[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.10:51820\nAllowedIPs = 192.0.2.64/26\n",
		priv, peer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	sys := enginetest.New()
	logger := log.New(io.Discard, "", 0)
	settled := make(chan struct{}, 1)
	g := &upgradeGate{Engine: engine.New(sys, t.TempDir(), plan.Options{}, logger), settled: settled}
	var changes []engine.Change
	g.Observe(func(ch engine.Change) { changes = append(changes, ch) })
	ctx := context.Background()

	// A Connect in the middle of its plan: not idle.
	inPlan, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	sys.BeforeApply(func(int, plan.Op) { first.Do(func() { close(inPlan); <-release }) })
	upDone := make(chan error, 1)
	go func() {
		_, err := g.Up(ctx, "home", cfg)
		upDone <- err
	}()
	select {
	case <-inPlan:
	case <-time.After(10 * time.Second):
		t.Fatal("the Up did not reach its plan")
	}
	if g.closeIfIdle() {
		t.Error("the gate closed while a tunnel was coming up")
	}
	close(release)
	if err := <-upDone; err != nil {
		t.Fatalf("Up: %v", err)
	}
	sys.BeforeApply(nil)
	<-settled // the Up's end was told

	// A tunnel up: not idle.
	if g.closeIfIdle() {
		t.Error("the gate closed with a tunnel up")
	}
	if err := g.DownBecause(ctx, "home", "disconnected"); err != nil {
		t.Fatal(err)
	}
	<-settled // the tunnel's going down was told
	if len(changes) == 0 || changes[len(changes)-1].Phase != engine.Down {
		t.Errorf("the server's observer did not get the changes: %+v", changes)
	}

	// Idle: the gate closes, and no tunnel comes up after.
	if !g.closeIfIdle() {
		t.Fatal("the gate stayed open with no tunnel up or coming up")
	}
	if _, err := g.Up(ctx, "home", cfg); !errors.Is(err, errReplaced) {
		t.Errorf("Up after the gate closed: %v, want errReplaced", err)
	}
	if links := sys.Links(); len(links) != 0 {
		t.Errorf("links after the refused Up: %v", links)
	}
}
