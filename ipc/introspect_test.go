package ipc

import (
	"encoding/xml"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/google/go-cmp/cmp"
)

// TestIntrospectXMLCanonical checks IntrospectXML is a fixed point of
// parsing and marshalling: anyone rendering the same Node gets the same
// bytes.
func TestIntrospectXMLCanonical(t *testing.T) {
	b, err := xml.MarshalIndent(Node(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	doctype := `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"` + "\n" +
		` "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">` + "\n"
	if got := doctype + string(b) + "\n"; got != IntrospectXML {
		t.Errorf("IntrospectXML is not canonical:\n%s", cmp.Diff(IntrospectXML, got))
	}
}

// TestIntrospectContract checks the document against the contract, member
// by member.
func TestIntrospectContract(t *testing.T) {
	in := func(name, sig string) introspect.Arg { return introspect.Arg{Name: name, Type: sig, Direction: "in"} }
	out := func(name, sig string) introspect.Arg { return introspect.Arg{Name: name, Type: sig, Direction: "out"} }
	sig := func(name, sig string) introspect.Arg { return introspect.Arg{Name: name, Type: sig} }
	want := &introspect.Node{
		XMLName: xml.Name{Local: "node"},
		Interfaces: []introspect.Interface{
			{
				Name: Interface,
				Methods: []introspect.Method{
					{Name: MethodList, Args: []introspect.Arg{out("tunnels", "a(ss)")}},
					{Name: MethodStatus, Args: []introspect.Arg{in("name", "s"), out("status", "a{sv}")}},
					{Name: MethodConnect, Args: []introspect.Arg{in("name", "s")}},
					{Name: MethodDisconnect, Args: []introspect.Arg{in("name", "s")}},
					{Name: MethodImport, Args: []introspect.Arg{in("name", "s"), in("config", "s")}},
					{Name: MethodRemove, Args: []introspect.Arg{in("name", "s")}},
					{Name: MethodGetConfig, Args: []introspect.Arg{in("name", "s"), out("config", "s")}},
					{Name: MethodSetTunnelOption, Args: []introspect.Arg{in("name", "s"), in("key", "s"), in("value", "s")}},
					{Name: MethodSetOption, Args: []introspect.Arg{in("key", "s"), in("value", "s")}},
					{Name: MethodDiagnose, Args: []introspect.Arg{in("name", "s"), in("options", "a{sv}"), out("report", "s")}},
				},
				Signals: []introspect.Signal{
					{Name: SignalStateChanged, Args: []introspect.Arg{sig("name", "s"), sig("state", "s"), sig("message", "s")}},
					{Name: SignalHealthChanged, Args: []introspect.Arg{sig("name", "s"), sig("health", "s"), sig("peer", "s"), sig("since", "x"), sig("reason", "s")}},
					{Name: SignalBlockRepaired, Args: []introspect.Arg{sig("message", "s")}},
				},
				Properties: []introspect.Property{{
					Name: PropertyVersion, Type: "s", Access: "read",
					Annotations: []introspect.Annotation{{Name: "org.freedesktop.DBus.Property.EmitsChangedSignal", Value: "const"}},
				}, {
					Name: PropertyLockdown, Type: "b", Access: "read",
				}, {
					Name: PropertyBlocking, Type: "b", Access: "read",
				}},
			},
			{
				Name: "org.freedesktop.DBus.Properties",
				Methods: []introspect.Method{
					{Name: "Get", Args: []introspect.Arg{in("interface_name", "s"), in("property_name", "s"), out("value", "v")}},
					{Name: "GetAll", Args: []introspect.Arg{in("interface_name", "s"), out("props", "a{sv}")}},
					{Name: "Set", Args: []introspect.Arg{in("interface_name", "s"), in("property_name", "s"), in("value", "v")}},
				},
				Signals: []introspect.Signal{{Name: "PropertiesChanged", Args: []introspect.Arg{
					sig("interface_name", "s"), sig("changed_properties", "a{sv}"), sig("invalidated_properties", "as"),
				}}},
			},
			{
				Name:    "org.freedesktop.DBus.Introspectable",
				Methods: []introspect.Method{{Name: "Introspect", Args: []introspect.Arg{out("xml_data", "s")}}},
			},
			{
				Name: "org.freedesktop.DBus.Peer",
				Methods: []introspect.Method{
					{Name: "Ping"},
					{Name: "GetMachineId", Args: []introspect.Arg{out("machine_uuid", "s")}},
				},
			},
		},
	}
	if diff := cmp.Diff(want, Node()); diff != "" {
		t.Errorf("introspection (-want +got):\n%s", diff)
	}
	// The Go types the client decodes into match the document.
	if got := dbus.SignatureOf([]Tunnel{}).String(); got != "a(ss)" {
		t.Errorf("[]Tunnel encodes as %s", got)
	}
	if got := dbus.SignatureOf(DiagnoseOptions{}.ToMap()).String(); got != "a{sv}" {
		t.Errorf("DiagnoseOptions encode as %s", got)
	}
	if got := dbus.SignatureOf(Status{}.ToMap()).String(); got != "a{sv}" {
		t.Errorf("Status encodes as %s", got)
	}
}

func TestNodeIsACopy(t *testing.T) {
	n := Node()
	n.Interfaces[0].Name = "changed"
	if Node().Interfaces[0].Name != Interface {
		t.Error("Node shares state between calls")
	}
}
