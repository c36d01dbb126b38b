// Package dns gives a tunnel's DNS servers and domains to whatever manages
// name resolution on this machine — systemd-resolved over D-Bus, else
// NetworkManager's global DNS over D-Bus when NM writes resolv.conf,
// else resolvconf(8), else /etc/resolv.conf itself — and takes them back. The
// planner (package plan) decides what to set; this package only applies a
// plan.DNS and its inverse, so that the engine can journal both.
package dns
