// Package sysbus runs a real, private system bus for root integration
// tests and the demo: Debian's dbus-daemon with a system-bus configuration
// that loads the project's own D-Bus policy from packaging/dbus, and
// Debian's polkitd on that bus with the project's polkit action and rules
// files from packaging/polkit. It also makes throwaway users to call the
// bus as.
//
// # How polkitd is confined
//
// polkitd reads actions only from /usr/share/polkit-1/actions and rules
// only from /etc/polkit-1/rules.d and /usr/share/polkit-1/rules.d. It is
// started as `unshare --mount --propagation private sh -c '…'`: in that new
// mount namespace, whose mounts do not propagate to the host's, the script
// bind-mounts directories holding exactly our files over those three
// paths and execs polkitd, which drops to user polkitd by itself. The
// host's directories are never written to or mounted over. polkitd finds
// the bus through DBUS_SYSTEM_BUS_ADDRESS, which GLib honours; Start checks
// that the owner of org.freedesktop.PolicyKit1 on the bus is the polkitd it
// started. The bus socket lives in a directory everyone may enter, so that
// polkitd and test users reach it; its address is unix:path=… because
// abstract sockets are not shared across network namespaces.
//
// Without logind no caller is ever in an active session, so allow_active
// never applies and allow_any does: the group rule decides.
//
// # Leftovers
//
// Everything is stopped and removed in the test's cleanups: the daemons
// are killed and reaped, the temporary directory removed, the users
// deleted. If the test binary is killed, dbus-daemon gets SIGKILL through
// the parent-death signal and polkitd exits when it loses the bus; users
// and directories carry their creator's pid in their names, and the next
// test process to make one deletes those whose creator is gone. The
// system group wgtray is created when missing and left in place.
//
// # Debian packages
//
// The Makefile's test target must install: dbus (dbus-daemon), polkitd,
// util-linux (unshare, mount, setpriv), passwd (useradd, userdel,
// groupadd) and libxml2-utils (xmllint, to check the packaging XML).
package sysbus
