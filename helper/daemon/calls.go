package daemon

import (
	"fmt"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/ipc"
)

// maxCallsPerSender is how many calls of one bus connection the helper
// works on at once; the next ones are refused with LimitsExceeded until
// one has answered. The tray and the command line have at most a change
// waiting for a password and a read or another change in progress; List
// and Status answer at once, so they hardly count. 4 leaves them room
// and bounds what one connection makes the root helper hold: 4 goroutines
// and at most 4 configs of ipc.MaxConfigSize. (dbus-daemon bounds the
// connections of one user, 256 on Debian's system bus.)
const maxCallsPerSender = 4

// callGate admits method calls: their arguments must have the types of
// the contract, and their sender must not have too many in progress.
type callGate struct {
	// in is each method's signature of input arguments, from the
	// contract's introspection.
	in map[string]string

	mu       sync.Mutex
	inFlight map[string]int // sender → calls in progress
}

func newCallGate() *callGate {
	g := &callGate{in: map[string]string{}, inFlight: map[string]int{}}
	for _, iface := range ipc.Node().Interfaces {
		if iface.Name != ipc.Interface {
			continue
		}
		for _, m := range iface.Methods {
			var sig strings.Builder
			for _, a := range m.Args {
				if a.Direction == "in" {
					sig.WriteString(a.Type)
				}
			}
			g.in[m.Name] = sig.String()
		}
	}
	return g
}

// enter admits a call of method, or refuses it: InvalidArgs when its
// arguments are not of the method's signature, LimitsExceeded when its
// sender has maxCallsPerSender calls in progress. An admitted call calls
// leave when it is done.
//
// godbus converts what it can to the Go types of the method's
// parameters, so without the check an int32 5 would arrive as the string
// "\x05"; the signature header is what the caller sent.
func (g *callGate) enter(msg dbus.Message, method string) (leave func(), e *dbus.Error) {
	want, ok := g.in[method]
	if !ok {
		// Only the contract's methods are exported; a test keeps it so.
		return nil, ipc.ToDBus(fmt.Errorf("%w: %s is not a method of %s", ipc.ErrFailed, method, ipc.Interface))
	}
	got := ""
	if sig, ok := msg.Headers[dbus.FieldSignature].Value().(dbus.Signature); ok {
		got = sig.String()
	}
	if got != want {
		return nil, ipc.ToDBus(fmt.Errorf("%w: %s takes arguments (%s), not (%s)", ipc.ErrInvalidArgs, method, want, got))
	}
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight[sender] >= maxCallsPerSender {
		return nil, ipc.ToDBus(fmt.Errorf("%w: this connection has %d calls in progress, the most the helper takes from one; try again when one has answered",
			ipc.ErrLimitsExceeded, maxCallsPerSender))
	}
	g.inFlight[sender]++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.inFlight[sender]--; g.inFlight[sender] == 0 {
			delete(g.inFlight, sender)
		}
	}, nil
}
