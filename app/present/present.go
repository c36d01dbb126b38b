// Package present renders a tunnel's statistics for people, the same in
// the command line's status and in the tray's menu.
package present

import (
	"fmt"
	"time"
)

// Handshake describes the time since the last handshake: "12 s ago",
// which the tray shows as "handshake 12 s ago".
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

// Wait describes how long something was waited for: "60 s", "5 min",
// or Go's notation for what is not a whole number of seconds.
func Wait(d time.Duration) string {
	switch {
	case d >= 2*time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d >= time.Second && d%time.Second == 0:
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	return d.String()
}
