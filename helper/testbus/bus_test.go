package testbus

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

func dirList(t *testing.T, dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// checkAs asks polkit, over busctl run as u, whether u's own bus name may
// perform action. It returns busctl's reply text.
func checkAs(t *testing.T, b *Bus, u User, action string) string {
	t.Helper()
	// The subject is the caller's own connection: a unix-process subject
	// for busctl's pid would do too, but the helper uses bus names.
	script := `exec busctl --address="$ADDR" call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority org.freedesktop.PolicyKit1.Authority CheckAuthorization '(sa{sv})sa{ss}us' unix-process 2 pid u $$ start-time t 0 "$ACTION" 0 0 ""`
	cmd := u.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "ADDR="+b.Address, "ACTION="+action)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("busctl as %s: %v: %s", u.Name, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestPolkitOnPrivateBus(t *testing.T) {
	hostActions, hostRules := dirList(t, "/usr/share/polkit-1/actions"), dirList(t, "/etc/polkit-1/rules.d")
	b := Start(t, Options{})
	member := NewUser(t, "wgtray")
	stranger := NewUser(t)
	for _, action := range []string{"org.wgtray.connect", "org.wgtray.manage"} {
		if got := checkAs(t, b, member, action); !strings.HasPrefix(got, "(bba{ss}) true") {
			t.Errorf("member of wgtray, %s: %s; want authorized", action, got)
		}
		if got := checkAs(t, b, stranger, action); !strings.HasPrefix(got, "(bba{ss}) false") {
			t.Errorf("user outside wgtray, %s: %s; want not authorized", action, got)
		}
	}
	if got := dirList(t, "/usr/share/polkit-1/actions"); !slices.Equal(got, hostActions) {
		t.Errorf("host polkit actions changed: %v -> %v", hostActions, got)
	}
	if got := dirList(t, "/etc/polkit-1/rules.d"); !slices.Equal(got, hostRules) {
		t.Errorf("host polkit rules changed: %v -> %v", hostRules, got)
	}
}

func TestOnlyRootOwnsHelperName(t *testing.T) {
	b := Start(t, Options{NoPolkit: true})
	c := b.Conn(t)
	reply, err := c.RequestName("org.wgtray.Helper1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("root RequestName = %v, %v", reply, err)
	}
	c.ReleaseName("org.wgtray.Helper1")
	u := NewUser(t, "wgtray")
	cmd := u.Command("busctl", "--address="+b.Address, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su", "org.wgtray.Helper1", "4")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ccess") {
		t.Errorf("unprivileged RequestName: %v: %s; want access denied", err, out)
	}
	if _, err := exec.LookPath("busctl"); err != nil {
		t.Skip("busctl missing")
	}
}
