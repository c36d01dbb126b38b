// Command wgtray is wgtray's desktop side: with a subcommand it is the
// command line; without one it will be the tray icon (being built).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/wgtray/wgtray/app/cli"
	"github.com/wgtray/wgtray/ipc"
)

// Version is set at link time by the Makefile.
var Version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: wgtray COMMAND [ARGS]\n\nwgtray controls WireGuard tunnels through the wgtray-helper service.\n\n%s\nRun `wgtray COMMAND --help` for a command's options.\n", cli.Commands)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "wgtray: the tray icon is not available yet; use a command")
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "--version", "version":
		fmt.Fprintln(stdout, "wgtray", Version)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	env := cli.Env{
		Stdout: stdout, Stderr: stderr, Now: time.Now,
		Dial: func(ctx context.Context) (cli.Helper, func(), error) {
			c, err := ipc.Dial(ctx)
			if err != nil {
				return nil, nil, err
			}
			return c, func() { c.Close() }, nil
		},
	}
	return cli.Run(ctx, env, args)
}
