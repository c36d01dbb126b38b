package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestScriptsNeedAdmin runs the helper with --allow-scripts on a bus with
// the real polkitd and our policy: a member of group wgtray imports and
// connects a plain config without a password, but a config with a PostUp
// hook can be neither imported nor connected by the member (AccessDenied,
// naming org.wgtray.manage-scripts, with no hook run and nothing
// changed); root can do both, and the hook runs.
func TestScriptsNeedAdmin(t *testing.T) {
	s := startService(t, "--allow-scripts")
	member := sysbus.NewUser(t, "wgtray")
	child := sysbus.StartChild(t, s.bus, member)
	ran := filepath.Join(t.TempDir(), "post-up-ran")
	plain := s.tp.ClientConfig(netns.ClientOpts{})
	hooks := s.tp.ClientConfig(netns.ClientOpts{Extra: "PostUp = touch " + ran + "\n"})
	pub := sysbus.PublicDir(t)
	plainFile := netns.WriteConf(t, pub, "plain", plain)
	hooksFile := netns.WriteConf(t, pub, "hooks", hooks)
	for _, f := range []string{plainFile, hooksFile} {
		os.Chmod(f, 0o644) // the member reads them, not the helper
	}
	plainName, hooksName := netns.UniqueName("wgp"), netns.UniqueName("wgh")
	before := netns.Dump(t, s.tp.Client)
	ctx := context.Background()

	res, err := sysbus.CheckAuthorization(s.bus.Conn(t), sysbus.BusNameSubject(child.Name), "org.wgtray.manage-scripts")
	if err != nil || res.String() != "authorized=false challenge=true" {
		t.Errorf("polkit for a member and org.wgtray.manage-scripts: %s, %v; want a challenge", res, err)
	}

	if _, errOut, code := s.cli(t, &member, "import", plainFile, "--name", plainName); code != 0 {
		t.Fatalf("member imports a plain config: exit %d: %s", code, errOut)
	}
	_, errOut, code := s.cli(t, &member, "import", hooksFile, "--name", hooksName)
	if code == 0 || !strings.Contains(errOut, "org.wgtray.manage-scripts") {
		t.Errorf("member imports a config with PostUp: exit %d, %q; want refused for org.wgtray.manage-scripts", code, errOut)
	}
	if names := configNames(t, s.configDir); !slices.Equal(names, []string{plainName + ".conf"}) {
		t.Errorf("configs after the member's imports: %v, want only %s.conf", names, plainName)
	}

	if err := s.client(t).Import(ctx, hooksName, hooks); err != nil {
		t.Fatalf("root imports a config with PostUp: %v", err)
	}
	call := func(method, name string) string {
		return child.Do(t, "call %s %s %s.%s %s", ipc.BusName, ipc.ObjectPath, ipc.Interface, method, name)
	}
	if got := call(ipc.MethodConnect, hooksName); got != ipc.ErrorAccessDenied {
		t.Errorf("member connects the config with PostUp: %s, want %s", got, ipc.ErrorAccessDenied)
	}
	if _, errOut, code := s.cli(t, &member, "connect", hooksName); code == 0 || !strings.Contains(errOut, "org.wgtray.manage-scripts") {
		t.Errorf("member connects the config with PostUp with the CLI: exit %d, %q; want refused for org.wgtray.manage-scripts", code, errOut)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("the member's refused Connect ran the hook")
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("the refused calls changed the namespace:\n%s", netns.DumpDiff(before, after))
	}

	for _, m := range []string{ipc.MethodConnect, ipc.MethodDisconnect} {
		if got := call(m, plainName); got != "ok" {
			t.Errorf("member %s of the plain config: %s\nhelper: %s", m, got, s.proc.Stderr())
		}
	}
	c := s.client(t)
	if err := c.Connect(ctx, hooksName); err != nil {
		t.Fatalf("root connects the config with PostUp: %v\nhelper: %s", err, s.proc.Stderr())
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("root's Connect did not run the hook: %v", err)
	}
	if err := c.Disconnect(ctx, hooksName); err != nil {
		t.Fatal(err)
	}
	if after := netns.Dump(t, s.tp.Client); after != before {
		t.Errorf("disconnect did not restore the namespace:\n%s", netns.DumpDiff(before, after))
	}
	s.alive(t)
}
