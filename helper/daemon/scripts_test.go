package daemon_test

import (
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
