# wgtray %postun ($1: 0 on erase, 1 on upgrade): on erase, remove what the
# package created: the group wgtray (only if this package made it), its
# marker, and the journals' directory /run/wgtray. Configs in
# /etc/wireguard are never touched, nor is /run/wireguard, which wg-quick
# uses as well.
marker=/var/lib/wgtray/group-created

if [ "$1" = 0 ]; then
	if [ -e "$marker" ]; then
		groupdel wgtray || :
		rm -f "$marker"
	fi
	# The tunnels wanted up and those set to autoconnect boot.
	rm -f /var/lib/wgtray/wanted.json /var/lib/wgtray/autoconnect
	# wgtray's machine-wide options (lockdown), and lockdown's marker.
	rm -f /var/lib/wgtray/options /var/lib/wgtray/lockdown-on
	rmdir /var/lib/wgtray 2>/dev/null || :
	rm -rf /run/wgtray
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || :
fi
if command -v dbus-send >/dev/null && [ -S /run/dbus/system_bus_socket ]; then
	dbus-send --system --type=method_call --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.ReloadConfig || :
fi
exit 0
