package daemon_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/ipc"
)

// TestDaemonScriptsNeedTheirAction runs a server with --allow-scripts
// whose authorizer grants connect and manage but not manage-scripts: a
// config with hooks can be neither imported nor connected, and nothing is
// stored or applied; a plain config needs no more than before. Once
// manage-scripts is granted both work.
func TestDaemonScriptsNeedTheirAction(t *testing.T) {
	h := startWith(t, map[string]string{"hooks": hooksConf()}, true)
	ctx := t.Context()
	wantErr(t, "Connect of a config with hooks", h.client.Connect(ctx, "hooks"), ipc.ErrAccessDenied)
	wantErr(t, "Import of a config with hooks", h.client.Import(ctx, "more", hooksConf()), ipc.ErrAccessDenied)
	want := []authCall{
		{h.sender, daemon.ActionConnect, true},
		{h.sender, daemon.ActionManageScripts, true},
		{h.sender, daemon.ActionManage, true},
		{h.sender, daemon.ActionManageScripts, true},
	}
	if diff := cmp.Diff(want, h.auth.questions()); diff != "" {
		t.Errorf("authorizer questions (-want +got):\n%s", diff)
	}
	if log := h.sys.Log(); len(log) != 0 {
		t.Errorf("refused calls applied: %v", log)
	}
	if diff := cmp.Diff([]string{"hooks disconnected"}, h.list(t)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	if err := h.client.Import(ctx, "plain", splitConf()); err != nil {
		t.Fatalf("Import of a plain config: %v", err)
	}
	h.connect(t, "plain")
	if n := len(h.auth.questions()); n != len(want)+2 {
		t.Errorf("a plain config asked %d questions, want 2 more: %v", n-len(want), h.auth.questions()[len(want):])
	}

	h.auth.set(daemon.ActionManageScripts, true)
	h.connect(t, "hooks")
	if err := h.client.Import(ctx, "more", hooksConf()); err != nil {
		t.Errorf("Import of a config with hooks, allowed: %v", err)
	}
}

// TestDaemonScriptsAddedWhileQueued queues a Connect of a plain config
// behind a Disconnect of the same tunnel, and replaces the stored config
// with one with hooks meanwhile, as root could: the Connect, authorized
// for a config without hooks, reads the config again once it has the
// tunnel's lock, and refuses the hooks (AccessDenied) instead of running
// them.
func TestDaemonScriptsAddedWhileQueued(t *testing.T) {
	h := startWith(t, map[string]string{"home": splitConf()}, true)
	h.connect(t, "home")
	reached, release := h.holdLink(t, "home")
	disconnected := async(func() error { return h.client.Disconnect(t.Context(), "home") })
	await(t, reached, "Apply of the Disconnect")

	read := make(chan struct{}, 1)
	h.store.setHooks(func(string) {
		select {
		case read <- struct{}{}:
		default:
		}
	}, nil)
	connected := async(func() error { return h.client.Connect(t.Context(), "home") })
	await(t, read, "the Connect's read of the config")
	h.store.setHooks(nil, nil)
	h.store.mu.Lock()
	h.store.configs["home"] = []byte(hooksConf())
	h.store.mu.Unlock()
	release()

	if err := await(t, disconnected, "reply to Disconnect"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	err := await(t, connected, "reply to Connect")
	wantErr(t, "Connect of a config that got hooks while it waited", err, ipc.ErrAccessDenied)
	if err == nil || !strings.Contains(err.Error(), daemon.ActionManageScripts) {
		t.Errorf("the refusal does not name %s: %v", daemon.ActionManageScripts, err)
	}
	if diff := cmp.Diff(h.before, h.sys.State()); diff != "" {
		t.Errorf("machine after the refused Connect (-before +after):\n%s", diff)
	}
	for _, q := range h.auth.questions() {
		if q.Action == daemon.ActionManageScripts {
			t.Errorf("asked %v: the config had no hooks when the Connect was authorized", q)
		}
	}
}
