package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/engine"
	"github.com/wgtray/wgtray/helper/engine/enginetest"
	"github.com/wgtray/wgtray/helper/options"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/internal/testenv/privbus"
	"github.com/wgtray/wgtray/ipc"
)

// The tests run the real daemon.Server on a private bus, with the real
// engine over the fake machine of package enginetest, and drive it only
// as a client would: through ipc.Client and ipc's Watch. They use nothing
// of the server but its exported API, so that its insides can change.

// eventTimeout bounds each wait for a signal. It only turns a hang into a
// failure; no test measures time.
const eventTimeout = 20 * time.Second

var _ daemon.Devices = (*enginetest.System)(nil)

// harness is a running server and a client of it.
type harness struct {
	sys    *enginetest.System
	store  *fakeStore
	opts   *options.Dir
	auth   *fakeAuth
	log    *lockedLog
	srv    *daemon.Server
	client *ipc.Client
	// addr is the private bus's address, for more clients.
	addr string
	// stop ends the server's context, as SIGTERM does the helper's.
	stop context.CancelFunc
	// sender is the client's unique bus name, which the server must ask
	// the authorizer about.
	sender string
	events <-chan ipc.Event
	// before is the machine's state when the server started.
	before []string
}

// start runs a server with the given stored configs on a private bus,
// the actions connect and manage allowed, and a client watching it.
// Everything stops when the test ends.
func start(t *testing.T, configs map[string]string) *harness {
	t.Helper()
	return startWith(t, configs, false)
}

// startWith is start, with the helper's --allow-scripts set to
// allowScripts.
func startWith(t *testing.T, configs map[string]string, allowScripts bool) *harness {
	t.Helper()
	logs := newLockedLog()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	addr := privbus.Start(t)
	h := &harness{
		sys:   enginetest.New(),
		store: &fakeStore{configs: map[string][]byte{}},
		auth:  newFakeAuth(),
		log:   logs,
		addr:  addr,
	}
	h.sys.SetHost("vpn.example", netip.MustParseAddr("198.51.100.7"))
	for n, text := range configs {
		h.store.configs[n] = []byte(text)
	}
	opts, oerr := options.Open(t.TempDir())
	if oerr != nil {
		t.Fatal(oerr)
	}
	t.Cleanup(func() { opts.Close() })
	h.opts = opts
	logger := log.New(logs, "", 0)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.stop = cancel
	h.srv = daemon.New(ctx, daemon.Deps{
		Conn:         privbus.Connect(t, addr),
		Engine:       engine.New(h.sys, t.TempDir(), plan.Options{AllowScripts: allowScripts}, logger),
		Store:        h.store,
		Devices:      h.sys,
		Links:        h.sys,
		Options:      opts,
		Auth:         h.auth,
		Logger:       logger,
		Version:      "1.2.3-test",
		AllowScripts: allowScripts,
	})
	if err := h.srv.Export(); err != nil {
		t.Fatalf("Export: %v", err)
	}
	conn := privbus.Connect(t, addr)
	h.sender = conn.Names()[0]
	h.client = ipc.NewClient(conn)
	wctx, wcancel := context.WithCancel(context.Background())
	events, err := h.client.Watch(wctx)
	if err != nil {
		wcancel()
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() {
		wcancel()
		for range events { // until Watch has removed its rules and ended
		}
	})
	h.events = events
	h.before = h.sys.State()
	return h
}

// holdLink makes every Apply of an operation on link wait until release
// is called, as a hook that takes its time would; the test's end releases
// it too. reached receives the first operation held.
func (h *harness) holdLink(t *testing.T, link string) (reached <-chan plan.Op, release func()) {
	gate := make(chan struct{})
	first := make(chan plan.Op, 1)
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	h.sys.BeforeApply(func(_ int, op plan.Op) {
		if op.Link != link {
			return
		}
		select {
		case first <- op:
		default:
		}
		<-gate
	})
	return first, release
}

// await returns what ch delivers, failing the test if nothing comes.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(eventTimeout):
		t.Fatalf("no %s within %v", what, eventTimeout)
	}
	panic("unreachable")
}

// async runs call on its own goroutine and delivers its error.
func async(call func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- call() }()
	return ch
}

// next returns the next StateChanged, failing the test if none comes.
func (h *harness) next(t *testing.T) ipc.StateChange {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-h.events:
			if !ok {
				t.Fatal("Watch ended")
			}
			if ev.Kind == ipc.EventState {
				return ev.Change
			}
		case <-timer.C:
			t.Fatalf("no StateChanged within %v", eventTimeout)
		}
	}
}

// change is an expected StateChanged: name, state and a part of the
// message ("" for any).
type change struct {
	name  string
	state ipc.State
	msg   string
}

// expect checks that the next StateChangeds are want, in order.
func (h *harness) expect(t *testing.T, want ...change) {
	t.Helper()
	for _, w := range want {
		got := h.next(t)
		if got.Name != w.name || got.State != w.state || !strings.Contains(got.Message, w.msg) {
			t.Fatalf("StateChanged %q %s %q, want %q %s with a message containing %q", got.Name, got.State, got.Message, w.name, w.state, w.msg)
		}
	}
}

// status returns the Status of name, failing the test on an error.
func (h *harness) status(t *testing.T, name string) ipc.Status {
	t.Helper()
	st, err := h.client.Status(t.Context(), name)
	if err != nil {
		t.Fatalf("Status(%q): %v", name, err)
	}
	return st
}

// list returns List as "name state" lines.
func (h *harness) list(t *testing.T) []string {
	t.Helper()
	tunnels, err := h.client.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []string
	for _, tn := range tunnels {
		out = append(out, tn.Name+" "+string(tn.State))
	}
	return out
}

// connect connects name and checks the signals of it.
func (h *harness) connect(t *testing.T, name string) {
	t.Helper()
	if err := h.client.Connect(t.Context(), name); err != nil {
		t.Fatalf("Connect(%q): %v", name, err)
	}
	h.expect(t, change{name, ipc.StateConnecting, ""}, change{name, ipc.StateConnected, ""})
}

// wantErr checks that err matches the ipc sentinel want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want an error matching %q", what, err, want)
	}
}

// Keys for the test configs. Only public keys appear in the tests'
// expectations; the private ones must never reach a client.
var (
	privKey = mustKey()
	peerKey = mustKey().PublicKey()
)

func mustKey() wgtypes.Key {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		panic(err)
	}
	return k
}

// splitConf is a tunnel for two private networks.
func splitConf() string {
	return fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = 192.0.2.66/26

[Peer]
PublicKey = %s
Endpoint = 192.0.2.10:51820
AllowedIPs = 192.0.2.64/26
`, privKey, peerKey)
}

// fullConf is a dual-stack full tunnel with DNS, through a host name.
func fullConf() string { return enginetest.FullConfig(privKey, peerKey) }

// full4Conf is an IPv4 full tunnel, which the leak guard completes by
// blocking IPv6.
func full4Conf() string { return enginetest.Full4Config(privKey, peerKey) }

// hooksConf has a script hook, which the server refuses without
// --allow-scripts.
func hooksConf() string {
	return strings.Replace(splitConf(), "Address = 192.0.2.66/26\n", "Address = 192.0.2.66/26\nPostUp = true\n", 1)
}

// introspect calls Introspect on the helper's object.
func introspect(t *testing.T, conn *dbus.Conn) string {
	t.Helper()
	var xml string
	err := conn.Object(ipc.BusName, ipc.ObjectPath).CallWithContext(t.Context(), "org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml)
	if err != nil {
		t.Fatalf("Introspect: %v", err)
	}
	return xml
}
