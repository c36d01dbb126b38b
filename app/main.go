// Command wgtray is wgtray's desktop side: without arguments it is the
// tray icon; with a command it is the command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/wgtray/wgtray/app/cli"
	"github.com/wgtray/wgtray/app/tray"
	"github.com/wgtray/wgtray/ipc"
)

// Version is set at link time by the Makefile.
var Version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: wgtray [COMMAND [ARGS]]\n\nwgtray controls WireGuard tunnels through the wgtray-helper service.\nWithout a command it shows the tray icon.\n\n%s\nRun `wgtray COMMAND --help` for a command's options.\n", cli.Commands)
}

// timeoutEnv names the variable that overrides how long wgtray waits for
// the helper; wgtray(1) documents it.
const timeoutEnv = "WGTRAY_TIMEOUT"

// timeoutFrom parses the value of WGTRAY_TIMEOUT: a number of seconds or
// a Go duration ("90s", "2m"); "" is no override.
func timeoutFrom(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.Atoi(s); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a number of seconds or a duration such as 90s or 2m", timeoutEnv, s)
	}
	return d, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	timeout, err := timeoutFrom(os.Getenv(timeoutEnv))
	if err != nil {
		fmt.Fprintln(stderr, "wgtray:", err)
		return 2
	}
	if len(args) == 0 {
		err := tray.Main(stderr, tray.Timeouts{Read: timeout, Change: timeout})
		switch {
		case errors.Is(err, tray.ErrAlreadyRunning):
			fmt.Fprintln(stderr, "wgtray:", err)
			return 0
		case err != nil:
			fmt.Fprintln(stderr, "wgtray:", err)
			return 1
		}
		return 0
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "--version", "version":
		fmt.Fprintln(stdout, "wgtray", Version)
		return 0
	}
	ctx, stop := cli.SignalContext(context.Background())
	defer stop()
	env := cli.Env{
		Stdout: stdout, Stderr: stderr, Now: time.Now, Timeout: timeout,
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
