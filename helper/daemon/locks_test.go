package daemon_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wgtray/wgtray/ipc"
)

// readDeadline is how long List, Status and GetConfig may take while a
// change is held: they must not wait for it.
const readDeadline = time.Second

// TestDaemonReadsDoNotWait holds a Connect, then a Disconnect, in the
// middle of its plan: List, Status and GetConfig answer within a second
// meanwhile, from the state of the moment (connecting, disconnecting).
func TestDaemonReadsDoNotWait(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf()})
	reads := func(want ipc.State) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), readDeadline)
		defer cancel()
		tunnels, err := h.client.List(ctx)
		if err != nil {
			t.Fatalf("List while a change is held: %v", err)
		}
		if got := tunnels[0]; got.Name != "home" || got.State != want {
			t.Errorf("List while a change is held: %+v, want home %s", tunnels, want)
		}
		st, err := h.client.Status(ctx, "home")
		if err != nil || st.State != want {
			t.Errorf("Status while a change is held: %+v, %v; want %s", st, err, want)
		}
		if _, err := h.client.GetConfig(ctx, "home"); err != nil {
			t.Errorf("GetConfig while a change is held: %v", err)
		}
	}

	reached, release := h.holdLink(t, "home")
	connected := async(func() error { return h.client.Connect(t.Context(), "home") })
	await(t, reached, "Apply of the Connect")
	reads(ipc.StateConnecting)
	release()
	if err := await(t, connected, "reply to Connect"); err != nil {
		t.Fatalf("Connect: %v", err)
	}

	reached, release = h.holdLink(t, "home")
	disconnected := async(func() error { return h.client.Disconnect(t.Context(), "home") })
	await(t, reached, "Apply of the Disconnect")
	reads(ipc.StateDisconnecting)
	release()
	if err := await(t, disconnected, "reply to Disconnect"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after Disconnect (-before +after):\n%s", diff)
	}
}

// TestDaemonSplitTunnelsDoNotWait holds the Connect of split tunnel a in
// the middle of its plan: split tunnel b connects and disconnects
// meanwhile, and a completes afterwards.
func TestDaemonSplitTunnelsDoNotWait(t *testing.T) {
	h := start(t, map[string]string{"a": splitConf(), "b": splitConf()})
	reached, release := h.holdLink(t, "a")
	connectedA := async(func() error { return h.client.Connect(t.Context(), "a") })
	await(t, reached, "Apply of a's Connect")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := h.client.Connect(ctx, "b"); err != nil {
		t.Fatalf("Connect(b) while a's Connect is held: %v", err)
	}
	if st := h.status(t, "b"); st.State != ipc.StateConnected {
		t.Errorf("b: %+v", st)
	}
	if err := h.client.Disconnect(ctx, "b"); err != nil {
		t.Fatalf("Disconnect(b) while a's Connect is held: %v", err)
	}
	if st := h.status(t, "a"); st.State != ipc.StateConnecting {
		t.Errorf("a while held: %+v", st)
	}
	release()
	if err := await(t, connectedA, "reply to Connect(a)"); err != nil {
		t.Fatalf("Connect(a): %v", err)
	}
	if diff := cmp.Diff([]string{"a connected", "b disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := h.sys.Links(); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("links: %v", got)
	}
}

// TestDaemonFullTunnelsWait holds the Connect of full tunnel work: the
// Connect of full tunnel office waits for it (and then takes work down),
// while split tunnel home connects meanwhile.
func TestDaemonFullTunnelsWait(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf(), "office": full4Conf()})
	reached, release := h.holdLink(t, "work")
	connectedWork := async(func() error { return h.client.Connect(t.Context(), "work") })
	await(t, reached, "Apply of work's Connect")
	connectedOffice := async(func() error { return h.client.Connect(t.Context(), "office") })
	h.log.waitFor(t, `connect of "office" waits for a change in progress`)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := h.client.Connect(ctx, "home"); err != nil {
		t.Fatalf("Connect(home) while full tunnels wait: %v", err)
	}
	if st := h.status(t, "office"); st.State != ipc.StateDisconnected {
		t.Errorf("office went ahead of work's Connect: %+v", st)
	}
	release()
	if err := await(t, connectedWork, "reply to Connect(work)"); err != nil {
		t.Fatalf("Connect(work): %v", err)
	}
	if err := await(t, connectedOffice, "reply to Connect(office)"); err != nil {
		t.Fatalf("Connect(office): %v", err)
	}
	if diff := cmp.Diff([]string{"home connected", "office connected", "work disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if st := h.status(t, "work"); st.Error != "" {
		t.Errorf("work: %+v", st)
	}
}

// TestDaemonConnectQueuedBehindRemove starts a Connect while a Remove of
// the same tunnel is taking it down: the Connect must find the config
// gone (NotFound) and bring nothing up. The store lets the Remove delete
// the file only once the Connect has read it, which is the order in which
// a Connect slipping in between the Remove's disconnect and its delete
// would bring up a tunnel whose file is gone.
func TestDaemonConnectQueuedBehindRemove(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf()})
	h.connect(t, "home")

	connectRead := make(chan struct{})
	var readOnce sync.Once
	armed := make(chan struct{})
	h.store.setHooks(func(string) {
		select {
		case <-armed:
			readOnce.Do(func() { close(connectRead) })
		default:
		}
	}, func(string) {
		select {
		case <-connectRead:
		case <-time.After(eventTimeout):
		}
	})

	reached, release := h.holdLink(t, "home")
	removed := async(func() error { return h.client.Remove(t.Context(), "home") })
	await(t, reached, "Apply of the Remove's disconnect")
	close(armed)
	connected := async(func() error { return h.client.Connect(t.Context(), "home") })
	release()
	if err := await(t, removed, "reply to Remove"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	err := await(t, connected, "reply to Connect")
	wantErr(t, "Connect queued behind Remove", err, ipc.ErrNotFound)
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after Remove and the queued Connect (-before +after):\n%s", diff)
	}
	if got := h.list(t); len(got) != 0 {
		t.Errorf("List: %v", got)
	}
	if st, err := h.client.Status(t.Context(), "home"); !errors.Is(err, ipc.ErrNotFound) {
		t.Errorf("Status of the removed tunnel: %+v, %v", st, err)
	}
}

// TestDaemonShutdownHeldChange calls Shutdown while a Connect is held:
// Shutdown waits for it and then takes the tunnel down, a Connect after
// it is refused, and, with the change held for good, Shutdown returns
// when its context ends instead of waiting forever.
func TestDaemonShutdownHeldChange(t *testing.T) {
	t.Run("change ends", func(t *testing.T) {
		h := start(t, map[string]string{"home": splitConf()})
		reached, release := h.holdLink(t, "home")
		connected := async(func() error { return h.client.Connect(t.Context(), "home") })
		await(t, reached, "Apply of the Connect")
		shut := async(func() error { return h.srv.Shutdown(t.Context()) })
		h.log.waitFor(t, `disconnect of "home" waits for a change in progress`)
		release()
		if err := await(t, connected, "reply to Connect"); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		if err := await(t, shut, "return of Shutdown"); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
			t.Errorf("machine after Shutdown (-before +after):\n%s", diff)
		}
		err := h.client.Connect(t.Context(), "home")
		if !errors.Is(err, ipc.ErrFailed) || !strings.Contains(err.Error(), "stopping") {
			t.Errorf("Connect after Shutdown: %v, want a refusal saying the helper is stopping", err)
		}
	})
	t.Run("change held for good", func(t *testing.T) {
		h := start(t, map[string]string{"home": splitConf()})
		reached, _ := h.holdLink(t, "home")
		async(func() error { return h.client.Connect(t.Context(), "home") })
		await(t, reached, "Apply of the Connect")
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		err := await(t, async(func() error { return h.srv.Shutdown(ctx) }), "return of Shutdown")
		if err == nil || !strings.Contains(err.Error(), "--cleanup") {
			t.Errorf("Shutdown with a change held: %v, want an error pointing to --cleanup", err)
		}
	})
}

// TestDaemonQueuedChangeEndsWithServer queues a Disconnect behind a held
// Connect of the same tunnel and ends the server's context, as SIGTERM
// does the helper's: the queued call gives up at once with ErrFailed
// instead of waiting for the held change.
func TestDaemonQueuedChangeEndsWithServer(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf()})
	reached, _ := h.holdLink(t, "home")
	async(func() error { return h.client.Connect(t.Context(), "home") })
	await(t, reached, "Apply of the Connect")
	disconnected := async(func() error { return h.client.Disconnect(t.Context(), "home") })
	h.log.waitFor(t, `disconnect of "home" waits for a change in progress`)
	h.stop()
	err := await(t, disconnected, "reply to the queued Disconnect")
	wantErr(t, "queued Disconnect when the server stops", err, ipc.ErrFailed)
	if err == nil || !strings.Contains(err.Error(), "gave up waiting") {
		t.Errorf("queued Disconnect: %v, want it to say it gave up waiting", err)
	}
}
