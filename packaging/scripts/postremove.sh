#!/bin/sh
# On purge, remove what the package created; configs in /etc/wireguard stay.
set -e
if [ "$1" = "purge" ] || [ "$1" = "0" ]; then
	getent group wgtray >/dev/null 2>&1 && groupdel wgtray >/dev/null 2>&1 || true
	rm -rf /run/wgtray
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
