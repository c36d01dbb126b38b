package ipc

import (
	"errors"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/google/go-cmp/cmp"
)

func TestErrorsRoundTrip(t *testing.T) {
	if len(ErrorNames) != len(sentinels) {
		t.Fatalf("%d names for %d sentinels", len(ErrorNames), len(sentinels))
	}
	seen := map[string]bool{}
	for _, s := range sentinels {
		name := ErrorNames[s]
		if name == "" || seen[name] {
			t.Fatalf("sentinel %v has name %q (empty or shared)", s, name)
		}
		seen[name] = true
		wrapped := fmt.Errorf("%w: tunnel %q: details", s, "wg0")
		de := ToDBus(wrapped)
		if de.Name != name {
			t.Errorf("ToDBus(%v).Name = %s, want %s", s, de.Name, name)
		}
		back := FromDBus(*de)
		if !errors.Is(back, s) || back.Error() != wrapped.Error() {
			t.Errorf("FromDBus(ToDBus(%v)) = %v, want errors.Is the sentinel with the message", s, back)
		}
		for _, other := range sentinels {
			if other != s && errors.Is(back, other) {
				t.Errorf("%v also matches %v", back, other)
			}
		}
	}
	if de := ToDBus(errors.New("plain")); de.Name != ErrorNames[ErrFailed] {
		t.Errorf("an error without a sentinel became %s, want Failed", de.Name)
	}
	if ToDBus(nil) != nil {
		t.Error("ToDBus(nil) != nil")
	}
	other := dbus.Error{Name: "org.example.Other", Body: []any{"x"}}
	if err := FromDBus(other); errors.Is(err, ErrFailed) || err.Error() != "x" {
		t.Errorf("unknown name: %v", err)
	}
	plain := errors.New("not dbus")
	if FromDBus(plain) != plain {
		t.Error("a non-D-Bus error was changed")
	}
}

func TestStatusRoundTrip(t *testing.T) {
	in := Status{Name: "wg0", State: "connected", Interface: "wg0", Addresses: []string{"203.0.113.2/32"},
		Endpoint: "192.0.2.1:51820", PublicKey: "k", FullTunnel: true, LastHandshake: 1700000000,
		RxBytes: 1, TxBytes: 2, Error: "", Extra: map[string]dbus.Variant{"DNS": dbus.MakeVariant([]string{"203.0.113.1"})}}
	out, err := StatusFromMap(in.ToMap())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out, cmp.Comparer(func(a, b dbus.Variant) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("(-in +out)\n%s", diff)
	}
	m := in.ToMap()
	m["RxBytes"] = dbus.MakeVariant("lots")
	if _, err := StatusFromMap(m); err == nil {
		t.Error("a key of the wrong type was accepted")
	}
	if sig := dbus.SignatureOf(in.ToMap()); sig.String() != "a{sv}" {
		t.Errorf("status signature %s", sig)
	}
}

// TestIntrospectionParses checks the document names every member of the
// contract with the right signatures.
func TestIntrospectionParses(t *testing.T) {
	var node introspect.Node
	if err := xmlUnmarshal(IntrospectXML, &node); err != nil {
		t.Fatal(err)
	}
	var iface *introspect.Interface
	for i := range node.Interfaces {
		if node.Interfaces[i].Name == Interface {
			iface = &node.Interfaces[i]
		}
	}
	if iface == nil {
		t.Fatal("interface missing")
	}
	sigs := map[string]string{}
	for _, m := range iface.Methods {
		s := ""
		for _, a := range m.Args {
			s += a.Direction + ":" + a.Type + " "
		}
		sigs[m.Name] = s
	}
	want := map[string]string{
		"List": "out:a(ss) ", "Status": "in:s out:a{sv} ", "Connect": "in:s ", "Disconnect": "in:s ",
		"Import": "in:s in:s ", "Remove": "in:s ", "GetConfig": "in:s out:s ",
	}
	if diff := cmp.Diff(want, sigs); diff != "" {
		t.Errorf("methods (-want +got)\n%s", diff)
	}
	if len(iface.Signals) != 1 || iface.Signals[0].Name != SignalStateChanged || len(iface.Signals[0].Args) != 3 {
		t.Errorf("signals: %+v", iface.Signals)
	}
	if len(iface.Properties) != 1 || iface.Properties[0].Access != "read" {
		t.Errorf("properties: %+v", iface.Properties)
	}
	if got := dbus.SignatureOf([]Tunnel{}).String(); got != "a(ss)" {
		t.Errorf("List's Go type encodes as %s", got)
	}
}
