package ipc

import (
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// variantsEqual compares variants by signature and value.
var variantsEqual = cmp.Comparer(func(a, b dbus.Variant) bool {
	return a.Signature() == b.Signature() && cmp.Equal(a.Value(), b.Value())
})

func fullStatus() Status {
	return Status{
		Name: "wg0", State: StateConnected, Interface: "wg0",
		Addresses: []string{"203.0.113.2/32", "2001:db8::2/128"},
		Endpoint:  "192.0.2.1:51820", PublicKey: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=",
		FullTunnel: true, LastHandshake: 1700000000, RxBytes: 1 << 40, TxBytes: 2, Error: "step 3: boom",
		DNS: []string{"203.0.113.1", "corp.example"}, DNSManager: "systemd-resolved", LeakGuard: []string{"IPv6"},
		LeakGuardSkipped: "none skipped", Peers: []string{"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="},
		Health: HealthStalled, HealthPeer: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", HealthSince: 1700000100,
		HealthReason: "nothing came back for 15 s while sending", Autoconnect: "boot",
		KillSwitch: true, AllowLAN: true, Blocking: true,
		Extra: map[string]dbus.Variant{
			"Killswitch": dbus.MakeVariant(true),
		},
	}
}

func TestStatusRoundTrip(t *testing.T) {
	for _, in := range []Status{fullStatus(), {Name: "empty", State: StateDisconnected, Addresses: []string{}, DNS: []string{}, LeakGuard: []string{}, Peers: []string{}}} {
		m := in.ToMap()
		if sig := dbus.SignatureOf(m).String(); sig != "a{sv}" {
			t.Errorf("signature %s, want a{sv}", sig)
		}
		out, err := StatusFromMap(m)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in, out, variantsEqual); diff != "" {
			t.Errorf("round trip (-in +out):\n%s", diff)
		}
	}
}

// TestStatusWireTypes pins each key's D-Bus type, which outside clients
// rely on.
func TestStatusWireTypes(t *testing.T) {
	want := map[string]string{
		"Name": "s", "State": "s", "Interface": "s", "Addresses": "as", "Endpoint": "s", "PublicKey": "s",
		"FullTunnel": "b", "LastHandshake": "x", "RxBytes": "t", "TxBytes": "t", "Error": "s",
		"DNS": "as", "DNSManager": "s", "LeakGuard": "as", "LeakGuardSkipped": "s", "Peers": "as",
		"Health": "s", "HealthPeer": "s", "HealthSince": "x", "HealthReason": "s", "Autoconnect": "s",
		"KillSwitch": "b", "AllowLAN": "b", "Blocking": "b",
	}
	got := map[string]string{}
	for k, v := range (Status{}).ToMap() {
		got[k] = v.Signature().String()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys and types (-want +got):\n%s", diff)
	}
}

func TestStatusExtraNeverReplacesKnownKeys(t *testing.T) {
	s := Status{Name: "wg0", Extra: map[string]dbus.Variant{"Name": dbus.MakeVariant("evil")}}
	if got := s.ToMap()["Name"].Value(); got != "wg0" {
		t.Errorf("Name = %v", got)
	}
}

func TestStatusFromMapTypeErrors(t *testing.T) {
	for key, bad := range map[string]any{
		"RxBytes":       "lots",
		"LastHandshake": int32(5),         // x, not i
		"TxBytes":       int64(5),         // t, not x
		"FullTunnel":    "true",           // b
		"Addresses":     "203.0.113.2/32", // as
		"Name":          []string{"wg0"},
		"DNS":           "203.0.113.1",
		"LeakGuard":     true,
		"State":         int32(2), // s
	} {
		m := fullStatus().ToMap()
		m[key] = dbus.MakeVariant(bad)
		_, err := StatusFromMap(m)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s as %T: error %v, want one naming the key", key, bad, err)
		}
	}
}

func TestStatusFromMapTolerant(t *testing.T) {
	// A newer helper's extra keys and an older helper's missing ones.
	s, err := StatusFromMap(map[string]dbus.Variant{
		"Name":       dbus.MakeVariant("wg0"),
		"Killswitch": dbus.MakeVariant(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Name: "wg0", Extra: map[string]dbus.Variant{"Killswitch": dbus.MakeVariant(true)}}
	if diff := cmp.Diff(want, s, variantsEqual); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestStatusStateOnTheWire checks State goes out as a plain s, as
// StateChanged and List carry it, whatever its Go type.
func TestStatusStateOnTheWire(t *testing.T) {
	v := Status{State: StateConnecting}.ToMap()["State"]
	if got, ok := v.Value().(string); !ok || got != "connecting" || v.Signature().String() != "s" {
		t.Errorf("State variant = %#v (%s), want the string \"connecting\"", v.Value(), v.Signature())
	}
}

// TestStatusFromMapUnknownState checks a state this version does not know
// passes through, as List and Watch pass it: a newer helper may add one.
func TestStatusFromMapUnknownState(t *testing.T) {
	s, err := StatusFromMap(map[string]dbus.Variant{"State": dbus.MakeVariant("reconnecting")})
	if err != nil || s.State != State("reconnecting") {
		t.Errorf("StatusFromMap = %+v, %v", s, err)
	}
}
