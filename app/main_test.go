package main

import (
	"testing"
	"time"
)

func TestTimeoutFrom(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "2": 2 * time.Second, "90s": 90 * time.Second, "2m": 2 * time.Minute, "1.5s": 1500 * time.Millisecond} {
		if got, err := timeoutFrom(in); err != nil || got != want {
			t.Errorf("timeoutFrom(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-5", "0s", "soon", "5 s"} {
		if got, err := timeoutFrom(in); err == nil {
			t.Errorf("timeoutFrom(%q) = %v, want an error", in, got)
		}
	}
}
