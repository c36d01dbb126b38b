package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// TestLinkWatchSurvivesOverflow makes the kernel drop the helper's link
// events, for real, and deletes the tunnel's interface in the gap: with
// the helper stopped (SIGSTOP) nothing reads its netlink socket, a burst
// of link changes fills the socket's buffer, and the deletion that
// follows is lost; its next receive fails with ENOBUFS. vishvananda's
// subscription ended there, silently and for good, and the tunnel's
// routes and rules stayed. The helper must subscribe again, check its
// tunnels' links, and clean up as for any deletion.
func TestLinkWatchSurvivesOverflow(t *testing.T) {
	s := startService(t)
	sig := s.watch(t)
	name := netns.UniqueName("wgo")
	s.writeConfNoKillSwitch(t, name, s.tp.ClientConfig(netns.ClientOpts{}))
	// The burst's link, the test's own, in the client namespace.
	netns.IP(t, s.tp.Client, "link add flood0 type veth peer name flood0p")
	before := netns.Dump(t, s.tp.Client)
	if err := s.client(t).Connect(context.Background(), name); err != nil {
		t.Fatal(err)
	}

	if err := s.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.proc.Signal(syscall.SIGCONT) }) // on a failure below
	// 2000 RTM_NEWLINKs of a kilobyte or more, against a 208 KiB buffer;
	// the last puts the MTU back to 1500.
	var burst []string
	for i := range 2000 {
		burst = append(burst, fmt.Sprintf("link set dev flood0 mtu %d", 1499+i%2))
	}
	netns.IP(t, s.tp.Client, burst...)
	netns.IP(t, s.tp.Client, "link del "+name)
	if err := s.proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	ch := sig.waitFor(t, name, ipc.StateDisconnected)
	if !strings.Contains(ch.Message, "disappeared") {
		t.Errorf("message %q does not say the interface disappeared", ch.Message)
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("leftovers after the link vanished in the overflow:\n%s", netns.DumpDiff(before, after))
	}
	if !strings.Contains(s.proc.Stderr(), "no buffer space available; subscribing again") {
		t.Errorf("the helper did not say its link watch overflowed (did the test overflow it?):\n%s", s.proc.Stderr())
	}
	s.alive(t)
}
