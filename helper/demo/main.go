// Command wgtray-demo runs wgtray's main job safely on this machine,
// without touching its networking: it builds network namespaces with a
// local WireGuard peer (Debian's wireguard-go) and an "internet" host, a
// private system bus with polkitd, runs wgtray-helper in the client
// namespace, and drives it with the wgtray command line: import, connect,
// status, traffic through the tunnel, disconnect. Everything is torn
// down at the end, and on Ctrl-C.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/internal/testenv/tbrun"
	"github.com/wgtray/wgtray/ipc"
)

func main() {
	bin := flag.String("bin", "build", "directory holding wgtray and wgtray-helper")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "wgtray-demo: run as root (sudo make demo): it creates network namespaces")
		os.Exit(1)
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := tbrun.New("demo")
	r.HandleSignals()
	demo(r, abs)
	r.RunCleanups()
	fmt.Println("\nDone: namespaces, bus, polkitd and helper are gone; this machine's networking was never touched.")
}

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func demo(r *tbrun.Runner, bin string) {
	step("Setting up: client, WireGuard peer and internet host in their own network namespaces")
	tp := netns.New(r)
	fmt.Printf("   client %s, peer %s (wireguard-go %s), internet host %s\n", tp.Client, tp.Peer, tp.PeerIface, tp.Inet)
	step("Starting a private system bus with polkitd, and wgtray-helper in the client namespace")
	desk := findDesktop()
	opts := sysbus.Options{}
	if desk != nil {
		// On the demo's private bus only: let the invoking user control
		// tunnels without joining group wgtray.
		opts.ExtraRules = map[string]string{"60-demo.rules": fmt.Sprintf(
			"polkit.addRule(function(action, subject) {\n  if (action.id.indexOf(\"org.wgtray.\") == 0 && subject.user == %q) { return polkit.Result.YES; }\n});\n", desk.user)}
	}
	bus := sysbus.Start(r, opts)
	confDir := filepath.Join(r.TempDir(), "wireguard")
	if err := os.Mkdir(confDir, 0o700); err != nil {
		r.Fatal(err)
	}
	helper := bus.StartHelper(r, tp.Client, nil, filepath.Join(bin, "wgtray-helper"),
		"--config-dir", confDir, "--journal-dir", r.TempDir(), "--lib-dir", r.TempDir())
	fmt.Println("   wgtray-helper owns", ipc.BusName)

	port := tp.InetAddr4.String() + ":8080"
	netns.EchoSource(r, tp.Inet, port)
	before := netns.Dump(r, tp.Client)
	fmt.Printf("   before connecting, the internet host sees the client as %v\n", netns.SourceSeenBy(r, tp.Client, port))

	conf := netns.WriteConf(r, r.TempDir(), "demo", tp.ClientConfig(netns.ClientOpts{}))
	cli := func(args ...string) {
		fmt.Printf("\n$ wgtray %s\n", strings.Join(args, " "))
		cmd := exec.Command(filepath.Join(bin, "wgtray"), args...)
		cmd.Env = append(os.Environ(), bus.Env())
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			r.Fatalf("wgtray %s: %v\nhelper log:\n%s", strings.Join(args, " "), err, helper.Stderr())
		}
	}
	step("The main job, through the wgtray command line")
	cli("import", conf)
	cli("list")
	t0 := time.Now()
	cli("connect", "demo")
	fmt.Printf("   (connect took %v)\n", time.Since(t0).Round(time.Millisecond))
	cli("status", "demo")

	step("Proving traffic goes through the tunnel")
	rx0, _ := tp.PeerTransfer(r)
	src := netns.SourceSeenBy(r, tp.Client, port)
	rx1, _ := tp.PeerTransfer(r)
	fmt.Printf("   the internet host now sees the client as %v (the tunnel address)\n", src)
	fmt.Printf("   the peer received %d more bytes through WireGuard\n", rx1-rx0)
	fmt.Print("   ", netns.MustRun(r, tp.Client, "ip", "route", "get", tp.InetAddr4.String()))
	if src != tp.ClientTunnel4 || rx1 <= rx0 {
		r.Fatalf("traffic did not go through the tunnel")
	}

	step("Disconnecting")
	cli("disconnect", "demo")
	if after := netns.Dump(r, tp.Client); after != before {
		r.Fatalf("the client namespace differs after disconnect:\n%s", netns.DumpDiff(before, after))
	}
	fmt.Println("   the client namespace is exactly as it was before connecting (routes, rules, nftables, sysctls)")
	if desk != nil {
		step("The tray, for %s on display %s", desk.user, desk.display)
		desk.startTray(r, bin, bus)
		fmt.Println("   Click the wgtray icon in your panel and choose \"demo\" to connect it; click again to disconnect.")
		fmt.Print("   Press Enter here when you are done. ")
		bufio.NewReader(os.Stdin).ReadString('\n')
	} else {
		fmt.Println("\n   (no desktop session found through SUDO_USER and DISPLAY: the tray part is skipped)")
	}
	cli("remove", "demo")
}
