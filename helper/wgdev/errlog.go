package wgdev

import (
	"fmt"
	"sync"
	"time"
)

// errLogEvery is how often one kind of wireguard-go error is logged.
// While the LAN is down, wireguard-go fails every send ("Failed to send
// data packets: ... network is unreachable"), dozens a second: one line
// per kind and interval tells the same, and leaves the journal readable.
const errLogEvery = 30 * time.Second

// errLog passes wireguard-go's error lines on to printf, each format at
// most once per errLogEvery; the next line of a format says how many of
// it were left out. It starts no goroutine: nothing is logged when
// nothing happens.
type errLog struct {
	printf func(format string, args ...any)
	now    func() time.Time

	mu    sync.Mutex
	kinds map[string]*errKind
}

type errKind struct {
	last    time.Time
	dropped int
}

func newErrLog(printf func(string, ...any)) *errLog {
	return &errLog{printf: printf, now: time.Now, kinds: map[string]*errKind{}}
}

// Errorf is a device.Logger's Errorf.
func (l *errLog) Errorf(format string, args ...any) {
	now := l.now()
	l.mu.Lock()
	k := l.kinds[format]
	if k == nil {
		// Formats are wireguard-go's constants: a bounded set.
		k = &errKind{}
		l.kinds[format] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < errLogEvery {
		k.dropped++
		l.mu.Unlock()
		return
	}
	dropped := k.dropped
	k.last, k.dropped = now, 0
	l.mu.Unlock()
	if dropped > 0 {
		l.printf("%s (and %d more like it left out since the last one)", fmt.Sprintf(format, args...), dropped)
		return
	}
	l.printf(format, args...)
}
