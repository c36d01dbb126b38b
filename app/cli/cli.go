// Package cli is wgtray's command line: list, status, connect, disconnect,
// import, remove and show, each a call to the root helper through the
// typed client in package ipc.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/app/tunnelname"
	"github.com/wgtray/wgtray/ipc"
)

// Helper is what the commands need of the helper; *ipc.Client is one.
type Helper interface {
	List(ctx context.Context) ([]ipc.Tunnel, error)
	Status(ctx context.Context, name string) (ipc.Status, error)
	Connect(ctx context.Context, name string) error
	Disconnect(ctx context.Context, name string) error
	Import(ctx context.Context, name, text string) error
	Remove(ctx context.Context, name string) error
	GetConfig(ctx context.Context, name string) (string, error)
	SetTunnelOption(ctx context.Context, name, key, value string) error
	SetOption(ctx context.Context, key, value string) error
	Lockdown(ctx context.Context) (lockdown, blocking bool, err error)
}

// Env is the command line's world.
type Env struct {
	Stdout, Stderr io.Writer
	// Dial connects to the helper.
	Dial func(ctx context.Context) (Helper, func(), error)
	// Now is the clock, for "handshake 12 s ago".
	Now func() time.Time
	// Timeout, if set, replaces both ReadTimeout and InteractiveTimeout
	// (WGTRAY_TIMEOUT).
	Timeout time.Duration
}

// How long a command waits for the helper, dialling included: commands
// that only look get ReadTimeout, since the helper answers them from
// memory and a silent helper is a hung one; those that may make polkit
// ask for a password get InteractiveTimeout. Giving up abandons the
// answer, not the operation, which the helper bounds itself.
const (
	ReadTimeout        = 30 * time.Second
	InteractiveTimeout = 60 * time.Second
)

// Commands lists the subcommands, for the top-level usage.
const Commands = `Commands:
  list [--json]                   the stored tunnels and their states
  status [--json] [NAME]          details of one tunnel, or of all
  connect NAME                    bring a tunnel up
  disconnect NAME                 take a tunnel down
  import FILE [--name NAME]       store a wg-quick config (read as you)
  remove NAME                     disconnect and delete a tunnel
  show NAME                       print a config, secrets hidden
  set NAME KEY on|off             kill-switch, allow-lan of a tunnel
  lockdown [on|off]               block traffic outside a tunnel even with none up
`

type command struct {
	args  string // usage after the name
	help  string
	nargs [2]int // min, max positional arguments
	json  bool   // accepts --json
	name  bool   // accepts --name
	run   func(ctx context.Context, h Helper, e Env, o opts) error
	// interactive: polkit may ask for a password (the calls carry
	// ALLOW_INTERACTIVE_AUTHORIZATION), so the command waits longer.
	interactive bool
	// check, for a command that changes something, which the helper may
	// still finish after we stop waiting: how to see whether it did.
	check string
}

type opts struct {
	args []string
	json bool
	name string
}

var commands = map[string]command{
	"list":       {"[--json]", "List the stored tunnels and their states.", [2]int{0, 0}, true, false, cmdList, false, ""},
	"status":     {"[--json] [NAME]", "Show the status of tunnel NAME, or of every tunnel.", [2]int{0, 1}, true, false, cmdStatus, false, ""},
	"connect":    {"NAME", "Bring tunnel NAME up; returns once routes, rules and firewall are in place.", [2]int{1, 1}, false, false, onTunnel(Helper.Connect, "connected"), true, "wgtray status %s"},
	"disconnect": {"NAME", "Take tunnel NAME down.", [2]int{1, 1}, false, false, onTunnel(Helper.Disconnect, "disconnected"), true, "wgtray status %s"},
	"import":     {"FILE [--name NAME]", "Store the wg-quick config FILE, read with your own permissions, as tunnel NAME (default: the file's name).", [2]int{1, 1}, false, true, cmdImport, true, "wgtray list"},
	"remove":     {"NAME", "Disconnect tunnel NAME if needed and delete its config.", [2]int{1, 1}, false, false, onTunnel(Helper.Remove, "removed"), true, "wgtray list"},
	"show":       {"NAME", "Print the config of tunnel NAME with its keys hidden.", [2]int{1, 1}, false, false, cmdShow, true, ""},
}

// IsCommand reports whether name is a subcommand.
func IsCommand(name string) bool {
	_, ok := commands[name]
	return ok
}

// Run runs subcommand args[0] with the rest of args and returns the exit
// code: 0 on success, 1 when the helper refused, failed, could not be
// reached or did not answer in time, or when ctx ended (a signal: see
// SignalContext), 2 on misuse.
func Run(ctx context.Context, e Env, args []string) int {
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "wgtray: unknown command %q\n\n%s", args[0], Commands)
		return 2
	}
	fs := flag.NewFlagSet("wgtray "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	var o opts
	if cmd.json {
		fs.BoolVar(&o.json, "json", false, "print JSON")
	}
	if cmd.name {
		fs.StringVar(&o.name, "name", "", "the tunnel's `name`")
	}
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "Usage: wgtray %s %s\n\n%s\n", args[0], cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	// Flags may come after the positional arguments too.
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		o.args = append(o.args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(o.args) < cmd.nargs[0] || len(o.args) > cmd.nargs[1] {
		fs.Usage()
		return 2
	}
	for i, a := range o.args {
		if (args[0] == "import" && i == 0) || (args[0] == "set" && i > 0) || args[0] == "lockdown" {
			continue
		}
		if err := ipc.ValidName(a); err != nil {
			fmt.Fprintf(e.Stderr, "wgtray: %q: %v\n", a, err)
			return 2
		}
	}
	timeout := ReadTimeout
	if cmd.interactive {
		timeout = InteractiveTimeout
	}
	if e.Timeout > 0 {
		timeout = e.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := func() error {
		h, closeFn, err := e.Dial(ctx)
		if err != nil {
			return err
		}
		defer closeFn()
		return cmd.run(ctx, h, e, o)
	}()
	if err != nil {
		fmt.Fprintf(e.Stderr, "wgtray: %s\n", explain(ctx, err, args[0], cmd, o, timeout))
		return 1
	}
	return 0
}

// explain says what went wrong, and what a user can do about it.
func explain(ctx context.Context, err error, name string, cmd command, o opts, timeout time.Duration) string {
	var why string
	var intr Interrupted
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		why = "wgtray-helper did not answer within " + present.Wait(timeout)
	case errors.Is(err, context.Canceled) && errors.As(context.Cause(ctx), &intr):
		why = "interrupted by " + intr.Name() + " before wgtray-helper answered"
	default:
		return hint(err)
	}
	msg := name
	if len(o.args) > 0 && name != "import" {
		msg += " " + o.args[0]
	}
	msg += ": " + why
	if cmd.check != "" {
		check := cmd.check
		if strings.Contains(check, "%s") {
			check = fmt.Sprintf(check, o.args[0])
		}
		msg += "; it may still finish: see `" + check + "`"
	}
	return msg
}

// hint adds a hint to the errors a user can do something about.
func hint(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, ipc.ErrAccessDenied):
		return msg + " (ask to be added to group wgtray, or use sudo)"
	case strings.Contains(msg, "org.freedesktop.DBus.Error.ServiceUnknown") || strings.Contains(msg, "was not provided by any .service files"):
		return "wgtray-helper is not running and cannot be started: " + msg
	}
	return msg
}

func cmdList(ctx context.Context, h Helper, e Env, o opts) error {
	ts, err := h.List(ctx)
	if err != nil {
		return err
	}
	if o.json {
		if ts == nil {
			ts = []ipc.Tunnel{}
		}
		return printJSON(e.Stdout, ts)
	}
	if len(ts) == 0 {
		fmt.Fprintln(e.Stdout, "no tunnels (import one with: wgtray import FILE)")
	}
	for _, t := range ts {
		fmt.Fprintf(e.Stdout, "%-16s %s\n", t.Name, t.State)
	}
	return nil
}

func cmdStatus(ctx context.Context, h Helper, e Env, o opts) error {
	names := o.args
	if len(names) == 0 {
		ts, err := h.List(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			names = append(names, t.Name)
		}
	}
	var all []ipc.Status
	for _, n := range names {
		st, err := h.Status(ctx, n)
		if err != nil {
			return err
		}
		all = append(all, st)
	}
	if o.json {
		if len(o.args) == 1 {
			return printJSON(e.Stdout, jsonStatus(all[0]))
		}
		out := []any{}
		for _, s := range all {
			out = append(out, jsonStatus(s))
		}
		return printJSON(e.Stdout, out)
	}
	for i, s := range all {
		if i > 0 {
			fmt.Fprintln(e.Stdout)
		}
		writeStatus(e.Stdout, s, e.Now())
	}
	return nil
}

// onTunnel is a command that makes one call about tunnel NAME and then
// says "NAME: done".
func onTunnel(call func(Helper, context.Context, string) error, done string) func(context.Context, Helper, Env, opts) error {
	return func(ctx context.Context, h Helper, e Env, o opts) error {
		if err := call(h, ctx, o.args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s: %s\n", o.args[0], done)
		return nil
	}
}

func cmdImport(ctx context.Context, h Helper, e Env, o opts) error {
	path := o.args[0]
	// Read as the calling user: the helper never opens user files.
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) > ipc.MaxConfigSize {
		return fmt.Errorf("%s is larger than 64 KiB", path)
	}
	name := o.name
	if name == "" {
		name = tunnelname.FromFile(path)
	} else if err := ipc.ValidName(name); err != nil {
		return fmt.Errorf("--name %q: %v", name, err)
	}
	if err := h.Import(ctx, name, string(data)); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "imported %s as %s\n", path, name)
	return nil
}

func cmdShow(ctx context.Context, h Helper, e Env, o opts) error {
	text, err := h.GetConfig(ctx, o.args[0])
	if err != nil {
		return err
	}
	fmt.Fprint(e.Stdout, text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(e.Stdout)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
