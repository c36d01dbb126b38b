package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wgtray/wgtray/ipc"
)

func jsonStatus(s ipc.Status) map[string]any {
	m := map[string]any{
		"name": s.Name, "state": s.State, "interface": s.Interface, "addresses": list(s.Addresses),
		"endpoint": s.Endpoint, "publicKey": s.PublicKey, "fullTunnel": s.FullTunnel,
		"lastHandshake": s.LastHandshake, "rxBytes": s.RxBytes, "txBytes": s.TxBytes, "error": s.Error,
		"dns": list(s.DNS), "dnsManager": s.DNSManager, "leakGuard": list(s.LeakGuard),
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
	if s.State == ipc.StateConnected {
		line("handshake", Handshake(s.LastHandshake, now))
		line("transfer", Transfer(s.RxBytes, s.TxBytes))
	}
	line("last error", s.Error)
}

// list makes a missing list an empty JSON array.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Handshake describes the time since the last handshake: "handshake
// 12 s ago" in the tray, "12 s ago" here.
func Handshake(unix int64, now time.Time) string {
	if unix == 0 {
		return "none yet"
	}
	d := now.Sub(time.Unix(unix, 0))
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h ago", int(d.Hours()))
}

// Transfer is "↓ 1.2 MiB ↑ 340 KiB".
func Transfer(rx, tx uint64) string {
	return "↓ " + Bytes(rx) + " ↑ " + Bytes(tx)
}

// Bytes renders a byte count with binary units.
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 100 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
