package present

import (
	"testing"
	"time"
)

func TestPresent(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1258291: "1.2 MiB", 340 * 1024: "340 KiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	now := time.Unix(1000000, 0)
	for ago, want := range map[time.Duration]string{12 * time.Second: "12 s ago", 5 * time.Minute: "5 min ago", 3 * time.Hour: "3 h ago"} {
		if got := Handshake(now.Add(-ago).Unix(), now); got != want {
			t.Errorf("Handshake(%v ago) = %q, want %q", ago, got, want)
		}
	}
	if got := Handshake(0, now); got != "none yet" {
		t.Errorf("Handshake(0) = %q", got)
	}
}

func TestWait(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30 s", 60 * time.Second: "60 s", 90 * time.Second: "90 s",
		5 * time.Minute: "5 min", 1500 * time.Millisecond: "1.5s", 200 * time.Millisecond: "200ms",
	} {
		if got := Wait(d); got != want {
			t.Errorf("Wait(%v) = %q, want %q", d, got, want)
		}
	}
}
