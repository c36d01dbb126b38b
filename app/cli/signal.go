package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Interrupted is the cause of a context that SignalContext ended.
type Interrupted struct {
	Signal os.Signal
}

// Name is the signal's name as people know it: "SIGTERM".
func (e Interrupted) Name() string {
	switch e.Signal {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return e.Signal.String()
}

func (e Interrupted) Error() string { return "interrupted by " + e.Name() }

// SignalContext returns a context that SIGINT or SIGTERM ends, with an
// Interrupted cause, so that a command abandons its call and says why.
// After the first signal the default action is back: a second one ends
// the process at once. stop releases the signals.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			cancel(Interrupted{Signal: s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
		<-done
	}
}
