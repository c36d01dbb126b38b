package networkmanager

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/wgtray/wgtray/internal/testenv/privbus"
)

// The real NetworkManager is packaging's TestNetworkManagers, in
// containers; these tests check the Claimer's own logic against a
// stand-in that has NetworkManager's names on a private bus.

// fakeNM is NetworkManager's manager object and devices, as far as the
// Claimer uses them.
type fakeNM struct {
	t       *testing.T
	conn    *dbus.Conn
	mu      sync.Mutex
	devs    map[string]dbus.ObjectPath
	n       int
	sets    chan string // the interface whose Managed was set to false
	lookups chan string // GetDeviceByIpIface's argument
}

// startNM exports a NetworkManager with devices ifaces (managed, not
// announced), then takes its name.
func startNM(t *testing.T, addr string, ifaces ...string) *fakeNM {
	t.Helper()
	f := &fakeNM{t: t, conn: privbus.Connect(t, addr), devs: map[string]dbus.ObjectPath{},
		sets: make(chan string, 16), lookups: make(chan string, 64)}
	if err := f.conn.Export(f, Path, Interface); err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		f.device(i)
	}
	if r, err := f.conn.RequestName(BusName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v %v", BusName, r, err)
	}
	return f
}

// GetDeviceByIpIface is NetworkManager's method.
func (f *fakeNM) GetDeviceByIpIface(iface string) (dbus.ObjectPath, *dbus.Error) {
	f.lookups <- iface
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.devs[iface]; ok {
		return p, nil
	}
	return "", dbus.NewError(errUnknownDevice, []any{"no device " + iface})
}

// device exports a managed device for iface.
func (f *fakeNM) device(iface string) dbus.ObjectPath {
	f.t.Helper()
	f.mu.Lock()
	f.n++
	p := dbus.ObjectPath(fmt.Sprintf("%s/Devices/%d", Path, f.n))
	f.devs[iface] = p
	f.mu.Unlock()
	_, err := prop.Export(f.conn, p, prop.Map{DeviceInterface: {
		"Interface": {Value: iface},
		"Managed": {Value: true, Writable: true, Callback: func(c *prop.Change) *dbus.Error {
			if v, ok := c.Value.(bool); ok && !v {
				f.sets <- iface
			}
			return nil
		}},
	}})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// add exports a device for iface and announces it.
func (f *fakeNM) add(iface string) {
	f.t.Helper()
	if err := f.conn.Emit(Path, Interface+".DeviceAdded", f.device(iface)); err != nil {
		f.t.Fatal(err)
	}
}

// waitSet waits for the Claimer to mark iface unmanaged, failing if it
// marks another one first.
func (f *fakeNM) waitSet(t *testing.T, iface string) {
	t.Helper()
	select {
	case got := <-f.sets:
		if got != iface {
			t.Fatalf("%s was marked unmanaged, want %s", got, iface)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not marked unmanaged within 10 s", iface)
	}
}

// waitLookup waits for the Claimer to ask for iface's device.
func (f *fakeNM) waitLookup(t *testing.T, iface string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-f.lookups:
			if got == iface {
				return
			}
		case <-deadline:
			t.Fatalf("the Claimer did not look %s up within 10 s", iface)
		}
	}
}

// barrier announces a device of ours and waits for the Claimer to claim
// it: the Claimer handles signals in order, so whatever NetworkManager
// announced before has been handled, and had it been marked unmanaged
// waitSet would have seen it first.
func (f *fakeNM) barrier(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	name := fmt.Sprintf("sync%d", f.n)
	f.mu.Unlock()
	f.add(name)
	f.waitSet(t, name)
}

type ourLinks struct {
	mu    sync.Mutex
	links map[string]bool
}

// ours: the connected links, and the barriers' devices.
func (o *ourLinks) ours(l string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.links[l] || strings.HasPrefix(l, "sync")
}

func (o *ourLinks) active() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for l := range o.links {
		out = append(out, l)
	}
	return out
}

func (o *ourLinks) set(l string, up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if up {
		o.links[l] = true
	} else {
		delete(o.links, l)
	}
}

// TestClaimer: a connected link is claimed when NetworkManager announces
// it or when told, once; other devices are never touched; a DeviceAdded
// from someone else is ignored; NetworkManager's restart claims every
// connected link again.
func TestClaimer(t *testing.T) {
	addr := privbus.Start(t)
	nm := startNM(t, addr)
	links := &ourLinks{links: map[string]bool{"wg0": true, "wg1": true}}
	cc := privbus.Connect(t, addr)
	c, err := Start(context.Background(), cc, links.ours, links.active, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	nm.add("wg0")
	nm.waitSet(t, "wg0")
	// Already unmanaged: looked up, not set again (the barrier's claim
	// comes after it).
	c.Claim("wg0")
	nm.waitLookup(t, "wg0")
	nm.barrier(t)

	// Another program's device is never touched.
	nm.add("eth0")
	nm.barrier(t)

	// A link NetworkManager has not seen yet: claimed by its DeviceAdded.
	c.Claim("wg1")
	nm.waitLookup(t, "wg1")
	nm.add("wg1")
	nm.waitSet(t, "wg1")

	// A DeviceAdded from another sender than NetworkManager is ignored,
	// also one sent to the Claimer directly, which no match rule stops.
	links.set("wg2", true)
	fake := nm.device("wg2")
	liar := privbus.Connect(t, addr)
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(Path),
		dbus.FieldInterface:   dbus.MakeVariant(Interface),
		dbus.FieldMember:      dbus.MakeVariant("DeviceAdded"),
		dbus.FieldDestination: dbus.MakeVariant(cc.Names()[0]),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(fake)),
	}, Body: []any{fake}}
	if call := liar.Send(msg, nil); call.Err != nil {
		t.Fatal(call.Err)
	}
	// A round trip of the liar's: the bus has passed its signal on
	// before the barrier's.
	var id string
	if err := liar.BusObject().Call("org.freedesktop.DBus.GetId", 0).Store(&id); err != nil {
		t.Fatal(err)
	}
	nm.barrier(t)
	links.set("wg2", false)

	// NetworkManager restarts and forgets: every connected link is
	// claimed again, found by name.
	nm.conn.Close()
	nm2 := startNM(t, addr, "wg0", "wg1", "eth0")
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case l := <-nm2.sets:
			if l != "wg0" && l != "wg1" {
				t.Fatalf("after the restart %s was marked unmanaged", l)
			}
			got[l] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("after NetworkManager's restart only %v were claimed again", got)
		}
	}
}

// TestClaimerWithoutNetworkManager: with nothing owning the name, a
// Claim does nothing and logs nothing.
func TestClaimerWithoutNetworkManager(t *testing.T) {
	addr := privbus.Start(t)
	var logged lockedLog
	links := &ourLinks{links: map[string]bool{"wg0": true}}
	c, err := Start(context.Background(), privbus.Connect(t, addr), links.ours, links.active, log.New(&logged, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	c.Claim("wg0")
	c.Claim("wg0")
	c.Close()
	if s := logged.String(); s != "" {
		t.Errorf("logged without NetworkManager: %s", s)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return string(l.b) }
