package sysbus

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// polkitBusPolicy is Debian's D-Bus policy for polkitd: user polkitd may own
// org.freedesktop.PolicyKit1 and anyone may call it.
const polkitBusPolicy = "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"

// busConfig returns a dbus-daemon configuration with the semantics of
// Debian's /usr/share/dbus-1/system.conf: a system bus, EXTERNAL
// authentication only, and its default policy (deny owning names and
// method calls unless a service's policy allows them). It leaves out what
// would touch the host: running as messagebus, forking, the pid file,
// syslog, the setuid activation helper and the host's system.d
// directories. It includes only polkitd's policy and ours, so that the
// test proves our policy is enough. serviceDir may be empty; extra are
// more policy files to include (another service's, such as resolved's).
func busConfig(address, serviceDir, helperPolicy string, extra ...string) string {
	services := ""
	if serviceDir != "" {
		services = "<servicedir>" + xmlText(serviceDir) + "</servicedir>"
	}
	includes := xmlText(helperPolicy)
	for _, p := range extra {
		includes += "</include>\n  <include>" + xmlText(p)
	}
	return fmt.Sprintf(busConfigTemplate, xmlText(address), services, polkitBusPolicy, includes)
}

// xmlText escapes s for use as XML character data.
func xmlText(s string) string {
	var b bytes.Buffer
	// Writing to a bytes.Buffer cannot fail.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// busConfigTemplate's verbs are the listen address, the optional
// servicedir element, and the two included policies.
const busConfigTemplate = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>%s</listen>
  <auth>EXTERNAL</auth>
  %s
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Containers1"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>
  <!-- As on Debian, root may monitor the bus: handy when debugging a test. -->
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <include>%s</include>
  <include>%s</include>
</busconfig>
`
