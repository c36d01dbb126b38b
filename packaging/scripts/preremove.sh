#!/bin/sh
# Stopping the helper takes every tunnel down.
set -e
if [ -d /run/systemd/system ]; then
	if command -v deb-systemd-invoke >/dev/null 2>&1; then
		deb-systemd-invoke stop wgtray-helper.service >/dev/null 2>&1 || true
	else
		systemctl stop wgtray-helper.service >/dev/null 2>&1 || true
	fi
fi
exit 0
