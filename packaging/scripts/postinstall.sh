#!/bin/sh
# Create the group whose members may control tunnels, and tell D-Bus and
# systemd about the new files when they are running (not in a container).
set -e
getent group wgtray >/dev/null 2>&1 || groupadd --system wgtray
if [ -d /run/systemd/system ]; then
	systemd-tmpfiles --create wgtray.conf >/dev/null 2>&1 || true
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if command -v dbus-send >/dev/null 2>&1 && [ -S /run/dbus/system_bus_socket ]; then
	dbus-send --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null 2>&1 || true
fi
exit 0
