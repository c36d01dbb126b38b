package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// ownerSetup is a namespace with a full tunnel's config whose link and
// nftables table names a test gives to objects of "another program".
type ownerSetup struct {
	tp    *netns.Topology
	iface string
	conf  string
}

func newOwnerSetup(t *testing.T) *ownerSetup {
	t.Helper()
	netns.RequireRootFor(t, "it creates links, rules and nftables tables in a network namespace")
	tp := netns.New(t)
	iface := netns.UniqueName("wgo")
	conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32, 2001:db8:3::2/128", AllowedIPs: "0.0.0.0/0, ::/0",
	}))
	return &ownerSetup{tp: tp, iface: iface, conf: conf}
}

// foreign runs another program's commands and returns the dump with
// them in place: what must survive everything the engine does.
func (s *ownerSetup) foreign(t *testing.T, cmds ...string) string {
	t.Helper()
	for _, c := range cmds {
		netns.MustRun(t, s.tp.Client, "/bin/sh", "-c", c)
	}
	return netns.Dump(t, s.tp.Client)
}

func (s *ownerSetup) try(t *testing.T, state string, env ...string) string {
	t.Helper()
	return runChild(t, s.tp.Client, childEnv("try", s.conf, state, "userspace", env...))
}

func (s *ownerSetup) cleanup(t *testing.T, state string) {
	t.Helper()
	if out := runChild(t, s.tp.Client, childEnv("cleanup", "", state, "userspace")); !strings.Contains(out, "cleaned") {
		t.Fatalf("cleanup said %q", out)
	}
}

func (s *ownerSetup) same(t *testing.T, what, want string) {
	t.Helper()
	if got := netns.Dump(t, s.tp.Client); got != want {
		t.Errorf("%s changed what another program made:\n%s", what, netns.DumpDiff(want, got))
	}
}

// TestForeignObjectsAreKept gives a link, an nftables table and a rule of
// the tunnel's names or selectors to "another program" — before the
// Connect, between the engine's facts and its change, or after a crash —
// and checks that the Connect fails with ErrNotOurs (or coexists, for a
// rule at another priority) and that neither its rollback nor --cleanup
// deletes any of them.
func TestForeignObjectsAreKept(t *testing.T) {
	veth := func(name string) string {
		return fmt.Sprintf("ip link add %s type veth peer name %s", name, netns.UniqueName("vfp"))
	}
	t.Run("link-before", func(t *testing.T) {
		s := newOwnerSetup(t)
		want := s.foreign(t, veth(s.iface))
		state := t.TempDir()
		if out := s.try(t, state); !strings.Contains(out, "failed notours=true") {
			t.Fatalf("Up over another's link: %q, want a failure wrapping ErrNotOurs", out)
		}
		s.same(t, "a failed Up", want)
		s.cleanup(t, state)
		s.same(t, "--cleanup", want)
	})
	t.Run("link-race", func(t *testing.T) {
		s := newOwnerSetup(t)
		want := netns.Dump(t, s.tp.Client)
		state := t.TempDir()
		out := s.try(t, state, "WGTRAY_RACE_KIND=link-add", "WGTRAY_RACE_CMD="+veth(s.iface))
		if !strings.Contains(out, "failed notours=true") {
			t.Fatalf("Up racing another's link: %q, want a failure wrapping ErrNotOurs", out)
		}
		if dump := netns.Dump(t, s.tp.Client); !strings.Contains(dump, s.iface+"@") {
			t.Fatalf("the rollback deleted the other program's link:\n%s", netns.DumpDiff(want, dump))
		}
		want = netns.Dump(t, s.tp.Client)
		s.cleanup(t, state)
		s.same(t, "--cleanup", want)
	})
	t.Run("table-before", func(t *testing.T) {
		s := newOwnerSetup(t)
		want := s.foreign(t, "nft add table ip wgtray-"+s.iface, "nft add chain ip wgtray-"+s.iface+" theirs")
		state := t.TempDir()
		if out := s.try(t, state); !strings.Contains(out, "failed notours=true") {
			t.Fatalf("Up over another's table: %q, want a failure wrapping ErrNotOurs", out)
		}
		s.same(t, "a failed Up", want)
		s.cleanup(t, state)
		s.same(t, "--cleanup", want)
	})
	t.Run("suppress-rule-before", func(t *testing.T) {
		s := newOwnerSetup(t)
		want := s.foreign(t, "ip -4 rule add table main suppress_prefixlength 0", "ip -6 rule add table main suppress_prefixlength 0")
		state := t.TempDir()
		if out := s.try(t, state); !strings.Contains(out, "up and down") {
			t.Fatalf("Up beside another's suppress rule: %q, want it to coexist", out)
		}
		s.same(t, "Up and Down", want)
	})
	t.Run("suppress-rule-race", func(t *testing.T) {
		s := newOwnerSetup(t)
		state := t.TempDir()
		out := s.try(t, state, "WGTRAY_RACE_KIND=rule-add", "WGTRAY_RACE_CMD=ip -4 rule add pref %d table main suppress_prefixlength 0")
		if !strings.Contains(out, "failed") || !strings.Contains(out, "exist=true") {
			t.Fatalf("Up racing an identical rule: %q, want a failure wrapping EEXIST", out)
		}
		dump := netns.Dump(t, s.tp.Client)
		if !strings.Contains(dump, "lookup main suppress_prefixlength 0") {
			t.Fatalf("the rollback deleted the other program's identical rule:\n%s", dump)
		}
		s.cleanup(t, state)
		s.same(t, "--cleanup", dump)
	})
	t.Run("after-crash", func(t *testing.T) {
		// Our link dies with the helper; our table stays. Another program
		// then makes both names its own: cleanup must delete neither.
		s := newOwnerSetup(t)
		state := t.TempDir()
		tn := up(t, s.tp.Client, s.conf, state, "userspace")
		tn.proc.Kill()
		tn.proc.Wait(t, waitUp)
		want := s.foreign(t,
			"nft delete table ip wgtray-"+s.iface, "nft add table ip wgtray-"+s.iface, "nft add chain ip wgtray-"+s.iface+" theirs",
			veth(s.iface))
		s.cleanup(t, state)
		got := netns.Dump(t, s.tp.Client)
		for _, keep := range []string{"chain theirs", s.iface + "@"} {
			if !strings.Contains(got, keep) {
				t.Errorf("--cleanup deleted the other program's %q:\n%s", keep, netns.DumpDiff(want, got))
			}
		}
		if strings.Contains(got, "table ip6 wgtray-"+s.iface) || strings.Contains(got, "lookup main suppress_prefixlength 0") {
			t.Errorf("--cleanup left what was ours:\n%s", got)
		}
	})
}

// TestSrcValidMarkKeptIfChanged sets src_valid_mark to a value of its
// own while a full tunnel is up: Down must leave that value, not write
// back the one it found.
func TestSrcValidMarkKeptIfChanged(t *testing.T) {
	s := newOwnerSetup(t)
	const key = "/proc/sys/net/ipv4/conf/all/src_valid_mark"
	tn := up(t, s.tp.Client, s.conf, t.TempDir(), "userspace")
	if v := netns.MustRun(t, s.tp.Client, "cat", key); strings.TrimSpace(v) != "1" {
		t.Fatalf("src_valid_mark is %q while up, want 1", v)
	}
	netns.MustRun(t, s.tp.Client, "/bin/sh", "-c", "echo 2 > "+key)
	tn.down(t)
	if v := netns.MustRun(t, s.tp.Client, "cat", key); strings.TrimSpace(v) != "2" {
		t.Errorf("src_valid_mark is %q after Down, want another program's 2 kept", v)
	}
}
