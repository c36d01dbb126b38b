package daemon_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/ipc"
)

// TestDaemonLinkGoneNotOursWaitsForNothing: while a Connect is in the
// middle of its plan, the link watcher reports deletions of links that are
// not a connected tunnel's (another program's, and the connecting
// tunnel's own name, which is not up yet). LinkGone must answer them at
// once, not wait behind the Connect, and change nothing.
func TestDaemonLinkGoneNotOursWaitsForNothing(t *testing.T) {
	h := start(t, map[string]string{"work": fullConf()})
	inPlan := make(chan struct{})
	release := make(chan struct{})
	var first, done sync.Once
	h.sys.BeforeApply(func(int, plan.Op) {
		first.Do(func() {
			close(inPlan)
			<-release
		})
	})
	defer done.Do(func() { close(release) })
	connected := make(chan error, 1)
	go func() { connected <- h.client.Connect(t.Context(), "work") }()
	select {
	case <-inPlan:
	case <-time.After(eventTimeout):
		t.Fatalf("the Connect did not reach its plan within %v", eventTimeout)
	}

	answered := make(chan struct{})
	go func() {
		h.srv.LinkGone("eth0")
		h.srv.LinkGone("work")
		close(answered)
	}()
	select {
	case <-answered:
	case <-time.After(eventTimeout):
		t.Errorf("LinkGone of links that are no connected tunnel's waited %v behind a Connect", eventTimeout)
	}

	done.Do(func() { close(release) })
	if err := <-connected; err != nil {
		t.Fatalf("Connect: %v", err)
	}
	<-answered
	h.expect(t, change{"work", ipc.StateConnecting, ""}, change{"work", ipc.StateConnected, ""})
	if st := h.status(t, "work"); st.State != ipc.StateConnected {
		t.Errorf("after LinkGone of a connecting tunnel's name: %+v", st)
	}
}
