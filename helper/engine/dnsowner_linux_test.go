package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/testenv/debpkg"
	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// splitTunnel is one of several split tunnels up at once, each with its
// own DNS.
type splitTunnel struct {
	name, conf string
	servers    []string
	search     []string
}

// splitTunnels writes n split tunnels' configs. The third shares a
// server and a domain with the first: the file names each once.
func (s *dnsSetup) splitTunnels(t *testing.T, n int) []splitTunnel {
	t.Helper()
	specs := []struct{ servers, search []string }{
		{[]string{"203.0.113.1"}, []string{"a.example"}},
		{[]string{"203.0.113.21", "203.0.113.22"}, []string{"b.example"}},
		{[]string{"203.0.113.31", "203.0.113.1"}, []string{"c.example", "a.example"}},
	}
	dir := t.TempDir()
	var out []splitTunnel
	for i, sp := range specs[:n] {
		name := netns.UniqueName(fmt.Sprintf("wg%c", 'A'+i))
		conf := netns.WriteConf(t, dir, name, s.tp.ClientConfig(netns.ClientOpts{
			Addresses:  fmt.Sprintf("203.0.113.%d/32", 10+i),
			AllowedIPs: fmt.Sprintf("198.51.100.%d/28", 16*i),
			DNS:        strings.Join(append(slices.Clone(sp.servers), sp.search...), ", "),
		}))
		out = append(out, splitTunnel{name: name, conf: conf, servers: sp.servers, search: sp.search})
	}
	return out
}

// event is a step of an order: tunnel i goes up, or down.
type event struct {
	up bool
	i  int
}

func (e event) String() string {
	if e.up {
		return fmt.Sprintf("+%d", e.i)
	}
	return fmt.Sprintf("-%d", e.i)
}

// orders returns every order in which n tunnels can each go up once and
// down once, each up before its down: 6 for 2 tunnels, 90 for 3.
func orders(n int) [][]event {
	var out [][]event
	state := make([]int, n) // 0 down, 1 up, 2 done
	var walk func(seq []event)
	walk = func(seq []event) {
		if len(seq) == 2*n {
			out = append(out, slices.Clone(seq))
			return
		}
		for i := range n {
			if state[i] == 2 {
				continue
			}
			state[i]++
			walk(append(seq, event{up: state[i] == 1, i: i}))
			state[i]--
		}
	}
	walk(nil)
	return out
}

// wantResolvConf checks that the file holds the connected tunnels'
// servers and search domains, each once, in connect order, and nothing
// of the original's.
func wantResolvConf(t *testing.T, got plan.FileState, connected []splitTunnel) {
	t.Helper()
	var servers, search []string
	for _, tn := range connected {
		for _, s := range tn.servers {
			if !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
		for _, d := range tn.search {
			if !slices.Contains(search, d) {
				search = append(search, d)
			}
		}
	}
	var gotServers, gotSearch []string
	for _, line := range strings.Split(string(got.Data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "nameserver":
			gotServers = append(gotServers, f[1])
		case len(f) > 1 && f[0] == "search":
			gotSearch = append(gotSearch, f[1:]...)
		case len(f) > 0 && !strings.HasPrefix(f[0], "#"):
			t.Errorf("unexpected line %q", line)
		}
	}
	if got.Symlink != "" || !got.Exists || !slices.Equal(gotServers, servers) || !slices.Equal(gotSearch, search) {
		t.Errorf("resolv.conf is %s with servers %q and search %q, want servers %q and search %q:\n%s",
			got, gotServers, gotSearch, servers, search, got.Data)
	}
}

// sameFile fails the test unless got is want byte for byte (link for
// link) with the same mode and owner.
func sameFile(t *testing.T, what string, got, want plan.FileState) {
	t.Helper()
	if !got.Same(want) || got.Mode != want.Mode || got.UID != want.UID || got.GID != want.GID {
		t.Fatalf("%s: resolv.conf is %s (mode %o, %d:%d), want %s (mode %o, %d:%d):\n%s",
			what, got, got.Mode, got.UID, got.GID, want, want.Mode, want.UID, want.GID, got.Data)
	}
}

// durableCopy reports whether the lib directory keeps an original, and
// checks that it is a regular file only its owner can read.
func durableCopy(t *testing.T, lib string) bool {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(lib, "resolv.conf.json"))
	if os.IsNotExist(err) {
		return false
	}
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the durable copy: %v, mode %v", err, fi.Mode())
	}
	return true
}

// TestDNSResolvConfEveryOrder connects 2 and 3 split tunnels in one
// engine, in every order of ups and downs, over a plain-file original and
// over a symbolic link like resolved's stub: while tunnels are up the
// file names their servers and domains in connect order, the original is
// kept (0600) in the durable directory, and after the last down the
// original is back byte for byte, link for link, and the copy gone.
// Before the file had one owner, B kept A's file as "the original".
func TestDNSResolvConfEveryOrder(t *testing.T) {
	for _, orig := range []string{"file", "symlink"} {
		t.Run(orig, func(t *testing.T) {
			s := newDNSSetup(t, "203.0.113.1")
			writeOriginal(t, s.fs, orig)
			before := s.etcState(t, "resolv.conf")
			tunnels := s.splitTunnels(t, 3)
			lib := t.TempDir()
			sc := startScript(t, s.tp.Client, s.fs.Argv(childArgv(t)...),
				childEnv("script", "", t.TempDir(), "userspace", dnsEnv(plan.DNSFile, "WGTRAY_LIB="+lib)...))
			runs := 0
			for _, n := range []int{2, 3} {
				for _, order := range orders(n) {
					var connected []splitTunnel
					for step, ev := range order {
						tn := tunnels[ev.i]
						what := fmt.Sprintf("%v after step %d", order, step)
						if ev.up {
							sc.must(t, "up "+tn.conf)
							connected = append(connected, tn)
						} else {
							sc.must(t, "down "+tn.name)
							connected = slices.DeleteFunc(connected, func(c splitTunnel) bool { return c.name == tn.name })
						}
						now := s.etcState(t, "resolv.conf")
						if len(connected) == 0 {
							sameFile(t, what, now, before)
						} else {
							wantResolvConf(t, now, connected)
						}
						if kept := durableCopy(t, lib); kept != (len(connected) > 0) {
							t.Fatalf("%s: durable copy kept=%v with %d tunnels up", what, kept, len(connected))
						}
					}
					runs++
				}
			}
			sc.stop(t)
			if orig == "symlink" {
				if st := s.etcState(t, "stub-resolv.conf"); string(st.Data) != stubData {
					t.Errorf("the link's target was changed: %q", st.Data)
				}
			}
			left, _ := filepath.Glob(filepath.Join(s.fs.Upper, ".wgtray-*"))
			libLeft, _ := os.ReadDir(lib)
			if len(left)+len(libLeft) > 0 {
				t.Errorf("files left: %v in /etc, %v in the durable directory", left, libLeft)
			}
			t.Logf("%d orders, each ending with the original back", runs)
		})
	}
}

// TestDNSResolvConfReboot: two tunnels up, then the power goes: the
// helper dies and /run with its journals is gone, the durable copy is
// not. The next start (cleanup, then recovery) puts the original back
// byte for byte, link for link, and drops the copy.
func TestDNSResolvConfReboot(t *testing.T) {
	for _, orig := range []string{"file", "symlink"} {
		t.Run(orig, func(t *testing.T) {
			s := newDNSSetup(t, "203.0.113.1")
			writeOriginal(t, s.fs, orig)
			before := s.etcState(t, "resolv.conf")
			tunnels := s.splitTunnels(t, 2)
			lib, journals := t.TempDir(), t.TempDir()
			env := childEnv("script", "", journals, "userspace", dnsEnv(plan.DNSFile, "WGTRAY_LIB="+lib)...)
			sc := startScript(t, s.tp.Client, s.fs.Argv(childArgv(t)...), env)
			for _, tn := range tunnels {
				sc.must(t, "up "+tn.conf)
			}
			sc.p.Kill()
			sc.p.Wait(t, waitUp)
			if err := os.RemoveAll(journals); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(journals, 0o700); err != nil {
				t.Fatal(err)
			}
			up := s.etcState(t, "resolv.conf")
			wantResolvConf(t, up, tunnels)
			if !durableCopy(t, lib) {
				t.Fatal("no durable copy while two tunnels were up")
			}
			kept, _ := os.ReadFile(filepath.Join(lib, "resolv.conf.json"))
			t.Logf("resolv.conf after the power cut:\n%s\ndurable copy:\n%s", up.Data, kept)

			sc = startScript(t, s.tp.Client, s.fs.Argv(childArgv(t)...), env)
			sc.must(t, "cleanup")
			sc.must(t, "recover")
			sc.stop(t)
			sameFile(t, "after the restart", s.etcState(t, "resolv.conf"), before)
			if durableCopy(t, lib) {
				t.Error("the durable copy is still there")
			}
		})
	}
}

// TestDNSResolvconfEveryOrder: with resolvconf (openresolv, in the
// private view), each tunnel is a record of its own, so two tunnels can
// go down in either order and resolvconf's file and records are as
// before: no owner is needed there.
func TestDNSResolvconfEveryOrder(t *testing.T) {
	s := newDNSSetup(t, "203.0.113.1")
	s.fs.Usr = debpkg.Unpacked(t, "openresolv")
	conf := "resolv_conf=/etc/resolv.conf\nstate_dir=/etc/wgtray-test-resolvconf\n"
	if err := os.WriteFile(s.fs.Path("resolvconf.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.inView(t, "nameserver 192.0.2.53\n", "resolvconf", "-a", "eth0")
	records := func() string { return s.inView(t, "", "resolvconf", "-l") }
	before, beforeRecords := s.etcState(t, "resolv.conf"), records()
	tunnels := s.splitTunnels(t, 2)
	for _, down := range [][]int{{0, 1}, {1, 0}} {
		sc := startScript(t, s.tp.Client, s.fs.Argv(childArgv(t)...),
			childEnv("script", "", t.TempDir(), "userspace", dnsEnv(plan.DNSResolvconf)...))
		for _, tn := range tunnels {
			sc.must(t, "up "+tn.conf)
		}
		up := records()
		for _, tn := range tunnels {
			if !strings.Contains(up, tn.servers[0]) {
				t.Errorf("resolvconf -l lacks %s's record:\n%s", tn.name, up)
			}
		}
		for _, i := range down {
			sc.must(t, "down "+tunnels[i].name)
		}
		sc.stop(t)
		if after := s.etcState(t, "resolv.conf"); !after.Same(before) {
			t.Errorf("down order %v: resolv.conf:\n%s\nwant:\n%s", down, after.Data, before.Data)
		}
		if got := records(); got != beforeRecords {
			t.Errorf("down order %v: resolvconf -l:\n%s\nwant:\n%s", down, got, beforeRecords)
		}
	}
}
