#!/bin/sh
# install.sh DIST VERSION: `sudo make install`'s second half, after
# `make packages`. Installs the package that matches this distribution
# (apt on Debian/Ubuntu, dnf on Fedora), offers to add the user who ran
# sudo to group wgtray, and says what to do next.
#
# WGTRAY_ADD_USER=1 adds the user without asking, =0 never adds; unset,
# the question is read from the terminal, and without one nobody is added.
set -eu
dist=$1
version=$2

if [ "$(id -u)" != 0 ]; then
	echo "install.sh: run as root: sudo make install" >&2
	exit 1
fi

if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
	pkg=$(realpath "$dist/wgtray_${version}_amd64.deb")
	arch=$(dpkg --print-architecture)
	if [ "$arch" != amd64 ]; then
		echo "install.sh: the package is built for amd64, this machine is $arch" >&2
		exit 1
	fi
	echo "Installing $pkg with apt-get"
	# A path, not a name: apt installs the file and what it depends on.
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y "$pkg"
	uninstall="sudo make uninstall   (or: sudo apt-get remove wgtray; apt-get purge also removes the group wgtray)"
elif command -v dnf >/dev/null; then
	pkg=$(realpath "$dist/wgtray-${version}-1.x86_64.rpm")
	if [ "$(uname -m)" != x86_64 ]; then
		echo "install.sh: the package is built for x86_64, this machine is $(uname -m)" >&2
		exit 1
	fi
	echo "Installing $pkg with dnf"
	dnf install -y "$pkg"
	uninstall="sudo make uninstall   (or: sudo dnf remove wgtray)"
else
	echo "install.sh: neither apt-get nor dnf found: install $dist/wgtray_${version}_amd64.deb or $dist/wgtray-${version}-1.x86_64.rpm by hand" >&2
	exit 1
fi

user=${SUDO_USER:-}
added=no
if [ -n "$user" ] && [ "$user" != root ]; then
	if id -nG "$user" | tr ' ' '\n' | grep -qx wgtray; then
		added=already
	else
		answer=n
		case ${WGTRAY_ADD_USER:-} in
		1) answer=y ;;
		0) ;;
		*)
			# Ask only on a terminal: (exec </dev/tty) fails without one.
			if (exec </dev/tty) 2>/dev/null; then
				printf '\nAdd %s to group wgtray, so that %s may connect WireGuard tunnels without a password? [y/N] ' "$user" "$user" >/dev/tty
				read -r answer </dev/tty || answer=n
			fi
			;;
		esac
		case $answer in
		y | Y | yes | Yes | YES)
			usermod -aG wgtray "$user"
			echo "Added $user to group wgtray."
			added=yes
			;;
		*)
			echo
			echo "$user was not added to group wgtray: connecting will ask for an administrator's password."
			echo "To add them later: sudo usermod -aG wgtray $user   (then log in again)"
			;;
		esac
	fi
fi

echo
echo "wgtray $version is installed. Next:"
if [ "$added" = yes ]; then
	echo "  - log out and in again (or reboot), so that your session is in group wgtray;"
fi
echo "  - start wgtray from your desktop's menu, or run: wgtray"
echo "    (it starts by itself at your next login; on GNOME it needs the AppIndicator extension);"
echo "  - or use the command line: wgtray import FILE.conf, wgtray connect NAME, wgtray --help;"
echo "  - the root helper starts by itself on the first request (D-Bus activation)."
echo "To uninstall: $uninstall"
