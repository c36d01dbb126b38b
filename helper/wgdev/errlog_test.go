package wgdev

import (
	"fmt"
	"testing"
	"time"
)

// TestErrLog: each kind of error once per interval, the count of the
// left-out ones on the next line, other kinds apart.
func TestErrLog(t *testing.T) {
	var lines []string
	now := time.Unix(1000, 0)
	l := newErrLog(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	l.now = func() time.Time { return now }
	const send = "peer(%s) - Failed to send data packets: %v"
	for i := 0; i < 50; i++ {
		l.Errorf(send, "abc", "network is unreachable")
		now = now.Add(100 * time.Millisecond)
	}
	l.Errorf("Failed to read packet from TUN device: %v", "closed")
	now = now.Add(errLogEvery)
	l.Errorf(send, "abc", "network is unreachable")
	want := []string{
		"peer(abc) - Failed to send data packets: network is unreachable",
		"Failed to read packet from TUN device: closed",
		"peer(abc) - Failed to send data packets: network is unreachable (and 49 more like it left out since the last one)",
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("logged:\n%q\nwant:\n%q", lines, want)
	}
}
