package diagnose

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"go.uber.org/goleak"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/helper/wgdev"
	"github.com/wgtray/wgtray/ipc"
)

// The namespace tests run the real engine and the real Gatherer in a
// child process inside the test's client namespace: the test binary
// itself, re-executed with `ip netns exec` (and in a private view of
// /etc, for resolv.conf), as package engine's tests do. The child brings
// WGTRAY_CONF up and then answers requests on stdin, one JSON line each
// ({"name": "", "opts": ipc.DiagnoseOptions}), with a line "report
// JSON"; end of input takes the tunnel down and prints "down".
//
// Child environment: WGTRAY_CHILD=hold, WGTRAY_CONF, WGTRAY_STATE,
// WGTRAY_DNS (the DNS manager), WGTRAY_NO_LEAK_GUARD=1, and
// DBUS_SYSTEM_BUS_ADDRESS, a private bus (or none) for the other tools'
// names.
func TestMain(m *testing.M) {
	if role := os.Getenv("WGTRAY_CHILD"); role != "" {
		os.Exit(child())
	}
	goleak.VerifyTestMain(m)
}

type childRequest struct {
	Name string              `json:"name"`
	Opts ipc.DiagnoseOptions `json:"opts"`
}

func child() int {
	logger := log.New(os.Stderr, "child: ", 0)
	fail := func(err error) int {
		logger.Print(err)
		return 1
	}
	sys, err := engine.NewLinux(wgdev.Userspace, logger)
	if err != nil {
		return fail(err)
	}
	defer sys.Close()
	if err := sys.SetDNSManager(os.Getenv("WGTRAY_DNS")); err != nil {
		return fail(err)
	}
	sys.SetDNSLibDir(filepath.Join(os.Getenv("WGTRAY_STATE"), "lib"))
	noGuard := os.Getenv("WGTRAY_NO_LEAK_GUARD") == "1"
	e := engine.New(sys, os.Getenv("WGTRAY_STATE"), plan.Options{NoLeakGuard: noGuard}, logger)
	path := os.Getenv("WGTRAY_CONF")
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return fail(err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".conf")
	ctx := context.Background()
	p, err := e.Up(ctx, name, cfg)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("up table=%d\n", p.Table)
	var bus *dbus.Conn
	g := NewGatherer(func() (*dbus.Conn, error) {
		if bus != nil {
			return bus, nil
		}
		var err error
		bus, err = dbus.ConnectSystemBus()
		return bus, err
	}, logger)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var req childRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fail(err)
		}
		var dev *wgtypes.Device
		if d, err := sys.Devices().Device(name); err == nil {
			dev = d
		}
		t := FromPlan(name, cfg, e.State(name).Plan, dev, noGuard)
		rep := g.Run(ctx, []Tunnel{t}, req.Opts, uint32(os.Getuid()))
		s, err := rep.Encode()
		if err != nil {
			return fail(err)
		}
		fmt.Println("report " + s)
	}
	if bus != nil {
		bus.Close()
	}
	if err := e.Down(ctx, name); err != nil {
		return fail(err)
	}
	fmt.Println("down")
	return 0
}
