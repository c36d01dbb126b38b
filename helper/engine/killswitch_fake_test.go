package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine/enginetest"
	"github.com/wgtray/wgtray/helper/plan"
)

func hasBlock(state []string, prefix string) bool {
	return slices.ContainsFunc(state, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func killSwitchOn(string, *config.Config) (bool, bool) { return true, true }

// TestKillSwitchFakeLifecycle: the engine holds the block from the first
// step of an Up, and Down releases it; a crash's cleanup keeps it (a
// NAME.block file) and undoes the rest; the next engine adopts it, its
// Up takes over and its Down (plus Unblock) leaves nothing.
func TestKillSwitchFakeLifecycle(t *testing.T) {
	ctx := context.Background()
	sys := newFake()
	before := sys.State()
	dir := t.TempDir()
	ft := fakeTunnels(t)[0]
	e := newEngine(t, sys, plan.Options{}, dir)
	e.SetTunnelOptions(killSwitchOn)
	p, err := e.Up(ctx, ft.name, ft.config(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Ops[0].Kind != plan.KSHold || !e.TunnelBlocking(ft.name) || !e.Blocking() {
		t.Fatalf("first op %v, blocking %v", p.Ops[0], e.TunnelBlocking(ft.name))
	}
	if !hasBlock(sys.State(), "block live "+ft.name) {
		t.Fatalf("no block in %v", sys.State())
	}

	// A crash: a new engine over the same directory cleans up.
	e2 := newEngine(t, sys, plan.Options{}, dir)
	e2.SetTunnelOptions(killSwitchOn)
	if err := e2.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ft.name+".block")); err != nil {
		t.Fatalf("cleanup kept no block: %v", err)
	}
	st := sys.State()
	if !hasBlock(st, "block live "+ft.name) || hasBlock(st, "link "+ft.name) {
		t.Fatalf("after cleanup: %v; want the block and no link", st)
	}
	if err := e2.AdoptBlocks(ctx); err != nil {
		t.Fatal(err)
	}
	if !e2.TunnelBlocking(ft.name) || !hasBlock(sys.State(), "block kept "+ft.name) {
		t.Fatalf("not adopted: %v", sys.State())
	}
	// Up over the kept block drops the kept one once its own holds.
	if _, err := e2.Up(ctx, ft.name, ft.config(t)); err != nil {
		t.Fatal(err)
	}
	if hasBlock(sys.State(), "block kept "+ft.name) {
		t.Errorf("kept block left after Up: %v", sys.State())
	}
	if err := e2.Down(ctx, ft.name); err != nil {
		t.Fatal(err)
	}
	if err := e2.Unblock(ctx, ft.name); err != nil {
		t.Fatal(err)
	}
	// The first engine's hold stands for the kernel's table of the dead
	// process, which the real system rewrites whole; the fake keeps it.
	got := slices.DeleteFunc(sys.State(), func(s string) bool { return strings.HasPrefix(s, "block live ") })
	if !slices.Equal(got, before) {
		t.Errorf("after Down: %v, want %v", got, before)
	}
	if e2.Blocking() {
		t.Error("still blocking")
	}
}

// TestKillSwitchFakeFailures: a block that cannot be made fails the Up
// with nothing left; a failed Up over a kept block keeps it; turning the
// option off while up releases it, and a crash after that keeps nothing.
func TestKillSwitchFakeFailures(t *testing.T) {
	ctx := context.Background()
	ft := fakeTunnels(t)[0]

	sys := newFake()
	before := sys.State()
	e := newEngine(t, sys, plan.Options{}, t.TempDir())
	e.SetTunnelOptions(killSwitchOn)
	sys.Fail(enginetest.Failure{Kind: plan.KSHold})
	if _, err := e.Up(ctx, ft.name, ft.config(t)); !errors.Is(err, enginetest.ErrInjected) {
		t.Fatalf("Up with a failing block: %v", err)
	}
	if got := sys.State(); !slices.Equal(got, before) {
		t.Errorf("after the failed Up: %v", got)
	}

	// A kept block, then an Up that fails later: the block stays.
	dir := t.TempDir()
	e = newEngine(t, sys, plan.Options{}, dir)
	e.SetTunnelOptions(killSwitchOn)
	if _, err := e.Up(ctx, ft.name, ft.config(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.DownKeep(ctx, ft.name, "helper stopping"); err != nil {
		t.Fatal(err)
	}
	if !e.TunnelBlocking(ft.name) {
		t.Fatal("DownKeep kept nothing")
	}
	sys.Fail(enginetest.Failure{Kind: plan.LinkUp})
	if _, err := e.Up(ctx, ft.name, ft.config(t)); err == nil {
		t.Fatal("Up did not fail")
	}
	if !e.TunnelBlocking(ft.name) || !hasBlock(sys.State(), "block kept "+ft.name) {
		t.Errorf("a failed reconnect lifted the kept block: %v", sys.State())
	}

	// Off while up: released, and a crash then keeps nothing.
	if _, err := e.Up(ctx, ft.name, ft.config(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetKillSwitch(ctx, ft.name, false, true); err != nil {
		t.Fatal(err)
	}
	if e.TunnelBlocking(ft.name) || hasBlock(sys.State(), "block live "+ft.name) {
		t.Errorf("kill switch off, still blocking: %v", sys.State())
	}
	e2 := newEngine(t, sys, plan.Options{}, dir)
	if err := e2.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ft.name+".block")); err == nil {
		t.Error("a crash kept the block the user had turned off")
	}
	if got := sys.State(); !slices.Equal(got, before) {
		t.Errorf("after cleanup: %v, want %v", got, before)
	}
}
