package ipc

import (
	"encoding/xml"
	"fmt"

	"github.com/godbus/dbus/v5/introspect"
)

// IntrospectXML is the introspection document of ObjectPath: the helper
// serves exactly these bytes, and clients outside this project rely on
// them. It is canonical: the DOCTYPE line followed by encoding/xml's
// rendering of the document as an introspect.Node indented with tabs, so
// that whoever builds the same Node and marshals it gets the same bytes
// (a test keeps it so). The standard interfaces carry the argument names
// of the D-Bus specification.
const IntrospectXML = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
	<interface name="org.wgtray.Helper1">
		<method name="List">
			<arg name="tunnels" type="a(ss)" direction="out"></arg>
		</method>
		<method name="Status">
			<arg name="name" type="s" direction="in"></arg>
			<arg name="status" type="a{sv}" direction="out"></arg>
		</method>
		<method name="Connect">
			<arg name="name" type="s" direction="in"></arg>
		</method>
		<method name="Disconnect">
			<arg name="name" type="s" direction="in"></arg>
		</method>
		<method name="Import">
			<arg name="name" type="s" direction="in"></arg>
			<arg name="config" type="s" direction="in"></arg>
		</method>
		<method name="Remove">
			<arg name="name" type="s" direction="in"></arg>
		</method>
		<method name="GetConfig">
			<arg name="name" type="s" direction="in"></arg>
			<arg name="config" type="s" direction="out"></arg>
		</method>
		<method name="SetTunnelOption">
			<arg name="name" type="s" direction="in"></arg>
			<arg name="key" type="s" direction="in"></arg>
			<arg name="value" type="s" direction="in"></arg>
		</method>
		<method name="SetOption">
			<arg name="key" type="s" direction="in"></arg>
			<arg name="value" type="s" direction="in"></arg>
		</method>
		<method name="Diagnose">
			<arg name="name" type="s" direction="in"></arg>
			<arg name="options" type="a{sv}" direction="in"></arg>
			<arg name="report" type="s" direction="out"></arg>
		</method>
		<signal name="StateChanged">
			<arg name="name" type="s"></arg>
			<arg name="state" type="s"></arg>
			<arg name="message" type="s"></arg>
		</signal>
		<signal name="HealthChanged">
			<arg name="name" type="s"></arg>
			<arg name="health" type="s"></arg>
			<arg name="peer" type="s"></arg>
			<arg name="since" type="x"></arg>
			<arg name="reason" type="s"></arg>
		</signal>
		<signal name="BlockRepaired">
			<arg name="message" type="s"></arg>
		</signal>
		<property name="Version" type="s" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="const"></annotation>
		</property>
		<property name="Lockdown" type="b" access="read"></property>
		<property name="Blocking" type="b" access="read"></property>
	</interface>
	<interface name="org.freedesktop.DBus.Properties">
		<method name="Get">
			<arg name="interface_name" type="s" direction="in"></arg>
			<arg name="property_name" type="s" direction="in"></arg>
			<arg name="value" type="v" direction="out"></arg>
		</method>
		<method name="GetAll">
			<arg name="interface_name" type="s" direction="in"></arg>
			<arg name="props" type="a{sv}" direction="out"></arg>
		</method>
		<method name="Set">
			<arg name="interface_name" type="s" direction="in"></arg>
			<arg name="property_name" type="s" direction="in"></arg>
			<arg name="value" type="v" direction="in"></arg>
		</method>
		<signal name="PropertiesChanged">
			<arg name="interface_name" type="s"></arg>
			<arg name="changed_properties" type="a{sv}"></arg>
			<arg name="invalidated_properties" type="as"></arg>
		</signal>
	</interface>
	<interface name="org.freedesktop.DBus.Introspectable">
		<method name="Introspect">
			<arg name="xml_data" type="s" direction="out"></arg>
		</method>
	</interface>
	<interface name="org.freedesktop.DBus.Peer">
		<method name="Ping"></method>
		<method name="GetMachineId">
			<arg name="machine_uuid" type="s" direction="out"></arg>
		</method>
	</interface>
</node>
`

// Node returns IntrospectXML parsed, a fresh copy on every call, for
// comparing a live introspection with the contract by structure.
func Node() *introspect.Node {
	var n introspect.Node
	if err := xml.Unmarshal([]byte(IntrospectXML), &n); err != nil {
		// IntrospectXML is a constant that a test parses.
		panic(fmt.Sprintf("ipc: IntrospectXML does not parse: %v", err))
	}
	return &n
}
