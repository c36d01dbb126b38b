// Package packaging holds no code: it is the home of wgtray's packaging
// files (nfpm.yaml and what it packs: the systemd unit, D-Bus activation
// and policy, polkit action and rules, desktop entries, man pages,
// maintainer scripts) and of the tests that build the .deb and .rpm with
// `make packages`, lint them (lintian, rpmlint), install the .deb on the
// machine, start the installed helper through D-Bus activation on a
// private system bus, connect a tunnel in a network namespace, purge the
// package and check that nothing is left.
//
// The install tests need root (run `sudo make test`) and the Debian
// packages lintian, rpm and rpmlint, which `make deps` installs.
package packaging
