package uapisock

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// TestRemoveStale checks the rule on real sockets in Dir: a live one and a
// file that is not a socket stay, a dead one goes. It needs root for Dir.
func TestRemoveStale(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: writing to " + Dir + " needs root")
	}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := func(what string) string { return fmt.Sprintf("uapit%d%s", os.Getpid()%100000, what) }
	live, dead, plain := name("l"), name("d"), name("p")
	for _, n := range []string{live, dead, plain} {
		t.Cleanup(func() { os.Remove(Path(n)) })
	}
	l, err := net.Listen("unix", Path(live))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := net.Listen("unix", Path(dead))
	if err != nil {
		t.Fatal(err)
	}
	// Closing a listener removes its file; keep the file, as a killed
	// process does.
	d.(*net.UnixListener).SetUnlinkOnClose(false)
	d.Close()
	if err := os.WriteFile(Path(plain), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{live, dead, plain, name("none")} {
		if err := RemoveStale(n); err != nil {
			t.Errorf("RemoveStale(%s): %v", n, err)
		}
	}
	for n, want := range map[string]bool{live: true, dead: false, plain: true} {
		_, err := os.Lstat(Path(n))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v after RemoveStale, want %v", Path(n), got, want)
		}
	}
}
