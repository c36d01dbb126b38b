package daemon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/helper/engine/enginetest"
	"github.com/wgtray/wgtray/helper/plan"
	"github.com/wgtray/wgtray/ipc"
)

// TestDaemonIntrospection checks that the object the server exports
// describes itself with exactly the contract's document, and carries the
// version it was started with.
func TestDaemonIntrospection(t *testing.T) {
	h := start(t, nil)
	if got := introspect(t, h.client.Conn()); got != ipc.IntrospectXML {
		t.Errorf("Introspect:\n%s", cmp.Diff(ipc.IntrospectXML, got))
	}
	v, err := h.client.Version(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v != "1.2.3-test" {
		t.Errorf("Version %q", v)
	}
}

// TestDaemonListStatus checks List and Status of stored tunnels that are
// down: they come from the configs alone and change nothing.
func TestDaemonListStatus(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf()})
	if diff := cmp.Diff([]string{"home disconnected", "work disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	st := h.status(t, "work")
	want := ipc.Status{
		Name: "work", State: ipc.StateDisconnected,
		Addresses: []string{"203.0.113.2/24", "2001:db8:8::2/64"}, Endpoint: "vpn.example:51820",
		PublicKey: st.PublicKey, FullTunnel: true, DNS: []string{"203.0.113.1", "corp.example"},
		Peers: []string{peerKey.String()}, KillSwitch: true, AllowLAN: true, Autoconnect: "off",
	}
	if diff := cmp.Diff(want, st, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	if st.PublicKey == "" || strings.Contains(st.PublicKey, privKey.String()) {
		t.Errorf("Status has public key %q", st.PublicKey)
	}
	_, err := h.client.Status(t.Context(), "absent")
	wantErr(t, "Status of a tunnel that is not stored", err, ipc.ErrNotFound)
	_, err = h.client.Status(t.Context(), "no/such")
	wantErr(t, "Status of an invalid name", err, ipc.ErrInvalidName)
	if log := h.sys.Log(); len(log) != 0 {
		t.Errorf("reading state applied operations: %v", log)
	}
}

// TestDaemonConnectDisconnect connects and disconnects a tunnel: the
// signals say connecting then connected, Status shows the live tunnel,
// the question to the authorizer names the caller, and Disconnect leaves
// the machine as it was.
func TestDaemonConnectDisconnect(t *testing.T) {
	h := start(t, map[string]string{"work": fullConf()})
	down := h.status(t, "work")
	h.connect(t, "work")
	if diff := cmp.Diff([]authCall{{h.sender, daemon.ActionConnect, true}}, h.auth.questions()); diff != "" {
		t.Errorf("authorizer questions (-want +got):\n%s", diff)
	}
	if cmp.Equal(h.before, h.sys.State()) {
		t.Fatal("Connect changed nothing on the machine")
	}
	if got := h.sys.Links(); !cmp.Equal(got, []string{"work"}) {
		t.Errorf("links: %v", got)
	}
	st := h.status(t, "work")
	if st.State != ipc.StateConnected || st.Interface != "work" || !st.FullTunnel ||
		st.DNSManager != plan.DNSResolved || st.Error != "" || len(st.LeakGuard) != 0 {
		t.Errorf("Status while connected: %+v", st)
	}
	if st.PublicKey != down.PublicKey {
		t.Errorf("public key %q while connected, %q while not", st.PublicKey, down.PublicKey)
	}
	if st.Endpoint != "198.51.100.7:51820" {
		t.Errorf("endpoint %q while connected, want the resolved address", st.Endpoint)
	}
	if diff := cmp.Diff([]string{"work connected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	// Connecting what is connected does nothing.
	h.sys.ResetLog()
	if err := h.client.Connect(t.Context(), "work"); err != nil {
		t.Errorf("second Connect: %v", err)
	}
	if log := h.sys.Log(); len(log) != 0 {
		t.Errorf("second Connect applied: %v", log)
	}

	if err := h.client.Disconnect(t.Context(), "work"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	h.expect(t, change{"work", ipc.StateDisconnecting, ""}, change{"work", ipc.StateDisconnected, "disconnected"})
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after Disconnect (-before +after):\n%s", diff)
	}
	if st := h.status(t, "work"); st.State != ipc.StateDisconnected || st.Interface != "" {
		t.Errorf("Status after Disconnect: %+v", st)
	}
	// Disconnecting what is down is no error and sends nothing: the next
	// signal is the Connect's.
	if err := h.client.Disconnect(t.Context(), "work"); err != nil {
		t.Errorf("second Disconnect: %v", err)
	}
	h.connect(t, "work")
	err := h.client.Disconnect(t.Context(), "absent")
	wantErr(t, "Disconnect of a tunnel that is not stored", err, ipc.ErrNotFound)
}

// TestDaemonRefused refuses every action and checks that each call fails
// with ErrAccessDenied and changes nothing: no operation applied, no
// config stored or removed, no signal sent.
func TestDaemonRefused(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf()})
	h.auth.set(daemon.ActionConnect, false)
	h.auth.set(daemon.ActionManage, false)
	ctx := t.Context()
	wantErr(t, "Connect", h.client.Connect(ctx, "home"), ipc.ErrAccessDenied)
	wantErr(t, "Disconnect", h.client.Disconnect(ctx, "home"), ipc.ErrAccessDenied)
	wantErr(t, "Import", h.client.Import(ctx, "new", splitConf()), ipc.ErrAccessDenied)
	wantErr(t, "Remove", h.client.Remove(ctx, "home"), ipc.ErrAccessDenied)
	_, err := h.client.GetConfig(ctx, "home")
	wantErr(t, "GetConfig", err, ipc.ErrAccessDenied)
	want := []authCall{
		{h.sender, daemon.ActionConnect, true},
		{h.sender, daemon.ActionConnect, true},
		{h.sender, daemon.ActionManage, true},
		{h.sender, daemon.ActionManage, true},
		{h.sender, daemon.ActionManage, true},
	}
	if diff := cmp.Diff(want, h.auth.questions()); diff != "" {
		t.Errorf("authorizer questions (-want +got):\n%s", diff)
	}
	if log := h.sys.Log(); len(log) != 0 {
		t.Errorf("refused calls applied: %v", log)
	}
	if diff := cmp.Diff([]string{"home disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	// Connect allowed, manage still refused: the first signal is this
	// Connect's, so the refused calls sent none.
	h.auth.set(daemon.ActionConnect, true)
	h.connect(t, "home")
	wantErr(t, "Remove of a connected tunnel", h.client.Remove(ctx, "home"), ipc.ErrAccessDenied)
	if st := h.status(t, "home"); st.State != ipc.StateConnected {
		t.Errorf("a refused Remove changed the tunnel: %+v", st)
	}
}

// TestDaemonStepFailure injects a failure into a step of the plan: the
// Connect fails with ErrFailed, the tunnel is disconnected with the error
// in its Status, the machine is as before, and a later Connect works and
// clears the error.
func TestDaemonStepFailure(t *testing.T) {
	for _, after := range []bool{false, true} {
		h := start(t, map[string]string{"work": fullConf()})
		h.sys.Fail(enginetest.Failure{Kind: plan.FWAdd, Nth: 2, After: after})
		err := h.client.Connect(t.Context(), "work")
		wantErr(t, "Connect", err, ipc.ErrFailed)
		if err == nil || !strings.Contains(err.Error(), enginetest.ErrInjected.Error()) {
			t.Errorf("after=%v: Connect error %v does not say what failed", after, err)
		}
		h.expect(t, change{"work", ipc.StateConnecting, ""}, change{"work", ipc.StateDisconnected, "failed"})
		st := h.status(t, "work")
		if st.State != ipc.StateDisconnected || !strings.Contains(st.Error, enginetest.ErrInjected.Error()) {
			t.Errorf("after=%v: Status after the failure: %+v", after, st)
		}
		if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
			t.Errorf("after=%v: machine after the failed Connect (-before +after):\n%s", after, diff)
		}
		h.connect(t, "work")
		if st := h.status(t, "work"); st.Error != "" {
			t.Errorf("after=%v: the error survived a successful Connect: %q", after, st.Error)
		}
	}
}

// TestDaemonSecondFullTunnel connects a full tunnel while another is up:
// the first is disconnected, with a message naming the second, before the
// second connects; a split tunnel stays up throughout.
func TestDaemonSecondFullTunnel(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf(), "office": full4Conf()})
	h.connect(t, "home")
	h.connect(t, "work")
	if err := h.client.Connect(t.Context(), "office"); err != nil {
		t.Fatalf("Connect(office): %v", err)
	}
	h.expect(t,
		change{"work", ipc.StateDisconnecting, ""},
		change{"work", ipc.StateDisconnected, `full tunnel "office"`},
		change{"office", ipc.StateConnecting, ""},
		change{"office", ipc.StateConnected, ""},
	)
	if diff := cmp.Diff([]string{"home connected", "office connected", "work disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := h.sys.Links(); !cmp.Equal(got, []string{"home", "office"}) {
		t.Errorf("links: %v", got)
	}
	if st := h.status(t, "office"); !cmp.Equal(st.LeakGuard, []string{"IPv6"}) {
		t.Errorf("office's leak guard: %v, want IPv6 blocked", st.LeakGuard)
	}
	for _, n := range []string{"home", "office"} {
		if err := h.client.Disconnect(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		h.expect(t, change{n, ipc.StateDisconnecting, ""}, change{n, ipc.StateDisconnected, ""})
	}
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after disconnecting all (-before +after):\n%s", diff)
	}
}

// TestDaemonManage imports, reads and removes configs: Import stores a
// valid config under a new name only, GetConfig hides the private key,
// and Remove of a connected tunnel disconnects it first.
func TestDaemonManage(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	if err := h.client.Import(ctx, "new", fullConf()); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if diff := cmp.Diff([]string{"new disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List after Import (-want +got):\n%s", diff)
	}
	wantErr(t, "Import over an existing tunnel", h.client.Import(ctx, "new", splitConf()), ipc.ErrExists)
	wantErr(t, "Import of a bad config", h.client.Import(ctx, "bad", "[Interface]\nPrivateKey = nope\n"), ipc.ErrInvalidConfig)
	wantErr(t, "Import under a bad name", h.client.Import(ctx, "no/such", splitConf()), ipc.ErrInvalidName)
	text, err := h.client.GetConfig(ctx, "new")
	if err != nil {
		t.Fatalf("GetConfig: %v", err)
	}
	if strings.Contains(text, privKey.String()) {
		t.Error("GetConfig revealed the private key")
	}
	if !strings.Contains(text, peerKey.String()) || !strings.Contains(text, "vpn.example:51820") {
		t.Errorf("GetConfig lost the rest of the config:\n%s", text)
	}
	_, err = h.client.GetConfig(ctx, "absent")
	wantErr(t, "GetConfig of a tunnel that is not stored", err, ipc.ErrNotFound)

	h.connect(t, "new")
	if err := h.client.Remove(ctx, "new"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	h.expect(t, change{"new", ipc.StateDisconnecting, ""}, change{"new", ipc.StateDisconnected, "removed"})
	if got := h.list(t); len(got) != 0 {
		t.Errorf("List after Remove: %v", got)
	}
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after Remove (-before +after):\n%s", diff)
	}
	wantErr(t, "Remove of a tunnel that is not stored", h.client.Remove(ctx, "new"), ipc.ErrNotFound)
}

// TestDaemonScriptsDisabled checks that a config with script hooks is
// refused with ErrScriptsDisabled, before anything is applied, by a
// server started without --allow-scripts.
func TestDaemonScriptsDisabled(t *testing.T) {
	h := start(t, map[string]string{"hooks": hooksConf()})
	wantErr(t, "Connect", h.client.Connect(t.Context(), "hooks"), ipc.ErrScriptsDisabled)
	if log := h.sys.Log(); len(log) != 0 {
		t.Errorf("applied: %v", log)
	}
	if st := h.status(t, "hooks"); st.State != ipc.StateDisconnected {
		t.Errorf("Status: %+v", st)
	}
}

// TestDaemonShutdown checks that Shutdown, which the helper calls when it
// stops, takes every tunnel down and tells the clients why.
func TestDaemonShutdown(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf()})
	h.connect(t, "home")
	h.connect(t, "work")
	if err := h.srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The tunnels go down one after the other, in no particular order.
	seen := map[string][]ipc.State{}
	for range 4 {
		c := h.next(t)
		seen[c.Name] = append(seen[c.Name], c.State)
		if c.State == ipc.StateDisconnected && !strings.Contains(c.Message, "helper stopping") {
			t.Errorf("%q disconnected with message %q", c.Name, c.Message)
		}
	}
	want := []ipc.State{ipc.StateDisconnecting, ipc.StateDisconnected}
	if diff := cmp.Diff(map[string][]ipc.State{"home": want, "work": want}, seen); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after Shutdown (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"home disconnected", "work disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

// TestDaemonLinkGone deletes a connected tunnel's link behind the
// helper's back, as `ip link del` would, and reports it as the link
// watcher does: the rest of what Connect added is removed and clients are
// told. A link that is no tunnel's is ignored.
func TestDaemonLinkGone(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf(), "work": fullConf()})
	h.connect(t, "work")
	h.srv.LinkGone("eth0")
	if !h.sys.RemoveLink("work") {
		t.Fatal("the connected tunnel has no link")
	}
	h.srv.LinkGone("work")
	h.expect(t, change{"work", ipc.StateDisconnecting, ""}, change{"work", ipc.StateDisconnected, "interface work disappeared"})
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after the link went (-before +after):\n%s", diff)
	}
	if st := h.status(t, "work"); st.State != ipc.StateDisconnected {
		t.Errorf("Status: %+v", st)
	}
	// The next signal is this Connect's: LinkGone("eth0") sent none.
	h.connect(t, "home")
}

// TestDaemonStaleLinkGone delivers a link-deleted event late: the one of
// a Disconnect, arriving after the tunnel was connected again (the link
// watcher runs on its own goroutine and waits for the server's lock
// behind the next Connect). The tunnel's link exists, so the healthy
// tunnel must stay up: LinkGone checks that the link is gone now.
func TestDaemonStaleLinkGone(t *testing.T) {
	h := start(t, map[string]string{"work": fullConf()})
	h.connect(t, "work")
	if err := h.client.Disconnect(t.Context(), "work"); err != nil {
		t.Fatal(err)
	}
	h.expect(t, change{"work", ipc.StateDisconnecting, ""}, change{"work", ipc.StateDisconnected, ""})
	h.connect(t, "work")
	h.srv.LinkGone("work") // the Disconnect's event, late
	if st := h.status(t, "work"); st.State != ipc.StateConnected {
		t.Errorf("a stale event took the tunnel down: %+v", st)
	}
}
