package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wgtray/wgtray/app/present"
	"github.com/wgtray/wgtray/ipc"
)

func jsonStatus(s ipc.Status) map[string]any {
	m := map[string]any{
		"name": s.Name, "state": s.State, "interface": s.Interface, "addresses": list(s.Addresses),
		"endpoint": s.Endpoint, "publicKey": s.PublicKey, "fullTunnel": s.FullTunnel,
		"lastHandshake": s.LastHandshake, "rxBytes": s.RxBytes, "txBytes": s.TxBytes, "error": s.Error,
		"dns": list(s.DNS), "dnsManager": s.DNSManager, "leakGuard": list(s.LeakGuard),
		"health": s.Health, "healthPeer": s.HealthPeer, "healthSince": s.HealthSince, "healthReason": s.HealthReason,
		"autoconnect": s.Autoconnect,
		"killSwitch":  s.KillSwitch, "allowLAN": s.AllowLAN, "blocking": s.Blocking,
	}
	for k, v := range s.Extra {
		m[k] = v.Value()
	}
	return m
}

func writeStatus(w io.Writer, s ipc.Status, now time.Time) {
	fmt.Fprintf(w, "%s: %s\n", s.Name, s.State)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-14s %s\n", k+":", v)
		}
	}
	line("interface", s.Interface)
	line("addresses", strings.Join(s.Addresses, ", "))
	line("endpoint", s.Endpoint)
	line("public key", s.PublicKey)
	if s.FullTunnel {
		line("routes", "all traffic (full tunnel)")
	} else {
		line("routes", "split tunnel")
	}
	line("dns", strings.Join(s.DNS, ", "))
	if s.DNSManager != "" {
		line("dns set via", s.DNSManager)
	}
	for _, f := range s.LeakGuard {
		line(strings.ToLower(f), "blocked while connected (leak guard)")
	}
	line("leak guard", s.LeakGuardSkipped)
	if s.FullTunnel {
		ks := "off"
		if s.KillSwitch {
			ks = "on"
			if s.AllowLAN {
				ks += ", local network allowed"
			} else {
				ks += ", local network blocked too"
			}
		}
		line("kill switch", ks)
	}
	if s.Blocking {
		line("blocking", "traffic outside the tunnel is blocked")
	}
	line("autoconnect", s.Autoconnect)
	if s.State == ipc.StateConnected {
		line("health", healthLine(s))
		line("handshake", present.Handshake(s.LastHandshake, now))
		line("transfer", present.Transfer(s.RxBytes, s.TxBytes))
	}
	line("last error", s.Error)
}

// healthLine is the helper's judgement of a connected tunnel: "ok", or
// "stalled since 14:05: nothing came back for 15 s while sending".
func healthLine(s ipc.Status) string {
	if s.Health != ipc.HealthStalled {
		return string(s.Health)
	}
	h := "stalled"
	if s.HealthSince != 0 {
		h += ", no reply since " + time.Unix(s.HealthSince, 0).Format("15:04")
	}
	if s.HealthReason != "" {
		h += ": " + s.HealthReason
	}
	return h
}

// list makes a missing list an empty JSON array.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
