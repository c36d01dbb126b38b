package sysbus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// childEnv, set in the environment, makes the test binary run the child
// program (RunChildIfAsked): the tests start it as an unprivileged user to
// talk to the bus as that user, the way the tray and the command line do.
const childEnv = "WGTRAY_TESTBUS_CHILD"

// RunChildIfAsked runs the child program and exits, when the test binary
// was started by StartChild. A test package that uses StartChild calls it
// first thing in its TestMain.
func RunChildIfAsked() {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
}

// replyTimeout bounds every wait for the child or the bus.
const replyTimeout = 20 * time.Second

// childMain connects to the bus named by DBUS_SYSTEM_BUS_ADDRESS, prints
// "name" and its unique name, then answers one line per command line read
// from stdin:
//
//	own NAME                       RequestName: the reply code or error name
//	call DEST PATH IFACE.MEMBER [STRING…]  "ok" or the error name
//	watch SENDER                   AddMatch for SENDER's signals: "ok"
//	signal                         the next watched signal's name
//	check ACTION                   polkit, for this process: "authorized=… challenge=…"
func childMain() int {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer conn.Close()
	fmt.Println("name", conn.Names()[0])
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(childCommand(conn, signals, strings.Fields(sc.Text())))
	}
	return 0
}

func childCommand(conn *dbus.Conn, signals chan *dbus.Signal, f []string) string {
	switch {
	case len(f) == 2 && f[0] == "own":
		reply, err := conn.RequestName(f[1], dbus.NameFlagDoNotQueue)
		if err != nil {
			return errName(err)
		}
		return fmt.Sprint(reply)
	case len(f) >= 4 && f[0] == "call":
		var args []any
		for _, a := range f[4:] {
			args = append(args, a)
		}
		return Result(conn.Object(f[1], dbus.ObjectPath(f[2])).Call(f[3], 0, args...).Err)
	case len(f) == 2 && f[0] == "watch":
		return Result(conn.AddMatchSignal(dbus.WithMatchSender(f[1])))
	case len(f) == 1 && f[0] == "signal":
		for {
			select {
			case sig := <-signals:
				// The bus's own NameAcquired comes first.
				if sig.Sender != "org.freedesktop.DBus" {
					return sig.Name
				}
			case <-time.After(replyTimeout):
				return "timeout"
			}
		}
	case len(f) == 2 && f[0] == "check":
		subject := PolkitSubject{Kind: "unix-process", Details: map[string]dbus.Variant{
			"pid":        dbus.MakeVariant(uint32(os.Getpid())),
			"start-time": dbus.MakeVariant(uint64(0)), // polkitd looks it up
			"uid":        dbus.MakeVariant(int32(os.Getuid())),
		}}
		res, err := CheckAuthorization(conn, subject, f[1])
		if err != nil {
			return errName(err)
		}
		return res.String()
	}
	return "bad command"
}

// Result is "ok" for a nil error and the D-Bus error name otherwise, as
// the child program answers.
func Result(err error) string {
	if err == nil {
		return "ok"
	}
	return errName(err)
}

// errName returns the D-Bus error name of err, or its text if it is not a
// D-Bus error.
func errName(err error) string {
	var e dbus.Error
	if errors.As(err, &e) {
		return e.Name
	}
	var pe *dbus.Error
	if errors.As(err, &pe) {
		return pe.Name
	}
	return err.Error()
}

// Child is the child program running as a test user.
type Child struct {
	Name  string // its unique bus name
	dir   string // holds its copy of the test binary
	stdin io.WriteCloser
	lines chan string
	proc  *daemon
}

// StartChild runs the child program as u on b. A copy of the test binary
// is run: go test builds it in a directory only root may enter.
func StartChild(t *testing.T, b *Bus, u User) *Child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := PublicDir(t)
	bin := filepath.Join(dir, "child.test")
	copyFile(t, self, bin)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := u.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childEnv+"=1", b.Env())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// A pipe of our own rather than StdoutPipe, which Wait would close
	// under the reader.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	c := &Child{dir: dir, stdin: stdin, lines: make(chan string)}
	c.proc = startDaemon(t, "child as "+u.Name, cmd)
	w.Close()
	quit := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			case <-quit:
				return
			}
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		c.proc.stop()
		close(quit)
		<-read // the child is dead: the pipe is at its end
		r.Close()
	})
	name, ok := strings.CutPrefix(c.Next(t), "name ")
	if !ok {
		t.Fatalf("child did not connect: %v", c.proc)
	}
	c.Name = name
	return c
}

// Do sends one command line to the child and returns its answer.
func (c *Child) Do(t *testing.T, format string, args ...any) string {
	t.Helper()
	if _, err := fmt.Fprintf(c.stdin, format+"\n", args...); err != nil {
		t.Fatalf("write to child: %v: %v", err, c.proc)
	}
	return c.Next(t)
}

// Next returns the child's next line of output.
func (c *Child) Next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("child ended: %v", c.proc)
		}
		return line
	case <-time.After(replyTimeout):
		t.Fatalf("no answer from child within %v: %v", replyTimeout, c.proc)
	}
	return ""
}
