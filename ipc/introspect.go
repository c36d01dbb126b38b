package ipc

import "github.com/godbus/dbus/v5/introspect"

// IntrospectXML is the introspection document the helper serves at
// ObjectPath. Clients outside this project rely on it.
const IntrospectXML = introspect.IntrospectDeclarationString + `<node>
	<interface name="org.wgtray.Helper1">
		<method name="List">
			<arg name="tunnels" type="a(ss)" direction="out"/>
		</method>
		<method name="Status">
			<arg name="name" type="s" direction="in"/>
			<arg name="status" type="a{sv}" direction="out"/>
		</method>
		<method name="Connect">
			<arg name="name" type="s" direction="in"/>
		</method>
		<method name="Disconnect">
			<arg name="name" type="s" direction="in"/>
		</method>
		<method name="Import">
			<arg name="name" type="s" direction="in"/>
			<arg name="config" type="s" direction="in"/>
		</method>
		<method name="Remove">
			<arg name="name" type="s" direction="in"/>
		</method>
		<method name="GetConfig">
			<arg name="name" type="s" direction="in"/>
			<arg name="config" type="s" direction="out"/>
		</method>
		<signal name="StateChanged">
			<arg name="name" type="s"/>
			<arg name="state" type="s"/>
			<arg name="message" type="s"/>
		</signal>
		<property name="Version" type="s" access="read"/>
	</interface>
	<interface name="org.freedesktop.DBus.Properties">
		<method name="Get">
			<arg name="interface" type="s" direction="in"/>
			<arg name="property" type="s" direction="in"/>
			<arg name="value" type="v" direction="out"/>
		</method>
		<method name="GetAll">
			<arg name="interface" type="s" direction="in"/>
			<arg name="properties" type="a{sv}" direction="out"/>
		</method>
		<method name="Set">
			<arg name="interface" type="s" direction="in"/>
			<arg name="property" type="s" direction="in"/>
			<arg name="value" type="v" direction="in"/>
		</method>
		<signal name="PropertiesChanged">
			<arg name="interface" type="s"/>
			<arg name="changed_properties" type="a{sv}"/>
			<arg name="invalidated_properties" type="as"/>
		</signal>
	</interface>
	<interface name="org.freedesktop.DBus.Introspectable">
		<method name="Introspect">
			<arg name="xml_data" type="s" direction="out"/>
		</method>
	</interface>
	<interface name="org.freedesktop.DBus.Peer">
		<method name="Ping"/>
		<method name="GetMachineId">
			<arg name="machine_uuid" type="s" direction="out"/>
		</method>
	</interface>
</node>
`
