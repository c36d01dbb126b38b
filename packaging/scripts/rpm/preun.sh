# wgtray %preun ($1: 0 on erase, 1 on upgrade): on erase, stop the helper,
# which takes every tunnel down. An upgrade leaves a running helper alone,
# so that tunnels stay up: it notices its new binary and exits once no
# tunnel is up, and the next call starts the new one.
helper=/usr/libexec/wgtray/wgtray-helper

if [ "$1" = 0 ]; then
	if [ -d /run/systemd/system ]; then
		# ExecStopPost runs `wgtray-helper --cleanup`.
		systemctl stop wgtray-helper.service || :
	fi
	# A helper that systemd does not run (started by the bus itself, or
	# by hand): SIGTERM makes it take its tunnels down; wait up to 30 s.
	pids=
	for exe in /proc/[0-9]*/exe; do
		if [ "$(readlink "$exe" 2>/dev/null)" = "$helper" ]; then
			pid=${exe#/proc/}
			pid=${pid%/exe}
			kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
		fi
	done
	tries=300
	while [ -n "$pids" ] && [ "$tries" -gt 0 ]; do
		alive=
		for pid in $pids; do
			kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
		done
		pids=$alive
		tries=$((tries - 1))
		[ -z "$pids" ] || sleep 0.1
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null || :
	done
	# Journals left by a helper that had to be killed: undo them.
	if [ -d /run/wgtray ]; then
		"$helper" --cleanup || :
	fi
	# The kill switch and lockdown outlive the helper on purpose; removing
	# the package is one of the ways out: the machine is left online.
	"$helper" --remove-block || :
	if command -v systemctl >/dev/null; then
		systemctl --no-reload disable wgtray-lockdown.service >/dev/null 2>&1 || :
		systemctl --no-reload disable wgtray-autoconnect.service >/dev/null 2>&1 || :
	fi
fi
exit 0
