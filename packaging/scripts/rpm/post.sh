# wgtray %post ($1: 1 on install, 2 on upgrade): create the group whose
# members may control tunnels, and tell systemd and D-Bus about the new
# files where they run. Where they do not (a container, an image build)
# each step is skipped without failing.

# Present only if this package created the group: erasing the package
# then removes it, and never a group that an administrator made.
marker=/var/lib/wgtray/group-created

if ! getent group wgtray >/dev/null; then
	groupadd --system wgtray
	mkdir -p /var/lib/wgtray
	: >"$marker"
fi
# /run/wireguard, where wg(8) finds the embedded devices' sockets.
if command -v systemd-tmpfiles >/dev/null; then
	systemd-tmpfiles --create wgtray.conf || :
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || :
fi
# The early-boot lockdown unit is enabled always and runs only while
# lockdown is on (ConditionPathExists=/var/lib/wgtray/lockdown-on).
if command -v systemctl >/dev/null; then
	systemctl --no-reload enable wgtray-lockdown.service >/dev/null 2>&1 || :
	# So is the boot unit, which does nothing unless a tunnel is set to
	# autoconnect boot (ConditionPathExists=/var/lib/wgtray/autoconnect).
	systemctl --no-reload enable wgtray-autoconnect.service >/dev/null 2>&1 || :
fi
if command -v dbus-send >/dev/null && [ -S /run/dbus/system_bus_socket ]; then
	dbus-send --system --type=method_call --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.ReloadConfig || :
fi
exit 0
