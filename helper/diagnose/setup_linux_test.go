package diagnose

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/privatefs"
	"github.com/wgtray/wgtray/internal/testenv/privbus"
	"github.com/wgtray/wgtray/ipc"
)

// waitChild bounds each wait for the child: generous, as the machine is
// shared; no test measures time.
const waitChild = 60 * time.Second

// setup is the tests' topology (netns.Topology: client, WireGuard peer,
// internet host) with a tunnel held up in the client by a child running
// the engine and the Gatherer, in a private view of /etc.
type setup struct {
	tp   *netns.Topology
	fs   *privatefs.FS
	name string
	conf string
	proc *netns.Proc
	// bus is a private bus the child uses as its system bus, on which a
	// test can own the names of other network tools.
	bus string
}

type setupOpts struct {
	client netns.ClientOpts
	// resolvConf, when set, is the private /etc/resolv.conf before the
	// tunnel connects.
	resolvConf string
	// dns is the DNS manager the engine uses: "resolv.conf" by default.
	dns         string
	noLeakGuard bool
	// bus, when set, starts what the child's system bus is and returns
	// its address, once the topology exists; a private bus by default.
	bus func(t *testing.T, s *setup) string
	// endpoint, when set, replaces the peer's Endpoint (a name, say).
	endpoint string
}

func newSetup(t *testing.T, o setupOpts) *setup {
	t.Helper()
	netns.RequireRoot(t)
	return newSetupOn(t, netns.New(t), o)
}

// newSetupOn is newSetup on a topology the test made already.
func newSetupOn(t *testing.T, tp *netns.Topology, o setupOpts) *setup {
	t.Helper()
	s := &setup{tp: tp, fs: privatefs.New(t), name: netns.UniqueName("wgd")}
	if o.bus != nil {
		s.bus = o.bus(t, s)
	} else {
		s.bus = privbus.Start(t)
	}
	rc := o.resolvConf
	if rc == "" {
		rc = "# the test's own resolv.conf\nnameserver 192.0.2.1\n"
	}
	if err := os.WriteFile(s.fs.Path("resolv.conf"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	text := s.tp.ClientConfig(o.client)
	if o.endpoint != "" {
		text = strings.Replace(text, "Endpoint = "+s.tp.PeerEndpoint4.String(), "Endpoint = "+o.endpoint, 1)
	}
	s.conf = netns.WriteConf(t, t.TempDir(), s.name, text)
	if o.dns == "" {
		o.dns = "resolv.conf"
	}
	env := []string{"WGTRAY_CHILD=hold", "WGTRAY_CONF=" + s.conf, "WGTRAY_STATE=" + t.TempDir(), "WGTRAY_DNS=" + o.dns,
		"DBUS_SYSTEM_BUS_ADDRESS=" + s.bus}
	if o.noLeakGuard {
		env = append(env, "WGTRAY_NO_LEAK_GUARD=1")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s.proc = netns.StartProc(t, s.tp.Client, env, s.fs.Argv(exe, "-test.run=^$")...)
	s.proc.WaitLine(t, "up table=", waitChild)
	t.Cleanup(func() {
		s.proc.CloseStdin()
		select {
		case <-s.proc.Exited():
		case <-time.After(waitChild):
			t.Errorf("the child did not take the tunnel down: %s", s.proc.Stderr())
		}
	})
	return s
}

// handshake makes traffic through the tunnel until the peer has
// answered, so that health checks see a handshake.
func (s *setup) handshake(t *testing.T) {
	t.Helper()
	netns.WaitEvery(t, waitChild, 200*time.Millisecond, "a ping through the tunnel", func() bool {
		_, err := netns.Run(s.tp.Client, "ping", "-c", "1", "-W", "2", "203.0.113.1")
		return err == nil
	})
}

// diagnose asks the child for a report.
func (s *setup) diagnose(t *testing.T, opts ipc.DiagnoseOptions) ipc.Report {
	t.Helper()
	b, err := json.Marshal(childRequest{Opts: opts})
	if err != nil {
		t.Fatal(err)
	}
	from := len(s.proc.Lines())
	if err := s.proc.WriteStdin(string(b) + "\n"); err != nil {
		t.Fatal(err)
	}
	line := s.proc.WaitLineFrom(t, from, "report ", waitChild)
	rep, err := ipc.ParseReport(strings.TrimPrefix(line, "report "))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// explain asks the child for the route explainer's answer for dest.
func (s *setup) explain(t *testing.T, opts ipc.DiagnoseOptions) ipc.Route {
	t.Helper()
	rep := s.diagnose(t, opts)
	if len(rep.Routes) != 1 {
		t.Fatalf("route %s: report %+v", opts.Route, rep)
	}
	return rep.Routes[0]
}

// find returns the check id of rep, failing the test without it.
func find(t *testing.T, rep ipc.Report, id string) ipc.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s in the report:\n%s", id, reportText(rep))
	return ipc.Check{}
}

// want asserts check id's verdict and that its summary says sentence.
func want(t *testing.T, rep ipc.Report, id string, v ipc.Verdict, sentence string) ipc.Check {
	t.Helper()
	c := find(t, rep, id)
	if c.Verdict != v || !strings.Contains(c.Summary, sentence) {
		t.Errorf("check %s: %s %q (details %q), want %s saying %q", id, c.Verdict, c.Summary, c.Details, v, sentence)
	}
	return c
}

func reportText(rep ipc.Report) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		b.WriteString(string(c.Verdict) + " " + c.ID + ": " + c.Summary + "\n")
		for _, d := range c.Details {
			b.WriteString("    " + d + "\n")
		}
	}
	return b.String()
}

// wgQuickConf writes a wg-quick config for a second tunnel in dir.
func wgQuickConf(t *testing.T, iface, text string) string {
	t.Helper()
	return netns.WriteConf(t, filepath.Join(t.TempDir()), iface, text)
}

// privbusConn connects to the test's private bus.
func privbusConn(t *testing.T, addr string) *dbus.Conn { return privbus.Connect(t, addr) }
