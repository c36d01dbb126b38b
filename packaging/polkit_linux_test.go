package packaging

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/internal/testenv/sysbus"
)

// polkit's implicit authorizations as EnumerateActions reports them
// (PolkitImplicitAuthorization).
const (
	implicitAuthAdmin     = 2
	implicitAuthAdminKeep = 4
	implicitYes           = 5
)

// actionDesc is one entry of EnumerateActions's reply, (ssssssuuua{ss}).
type actionDesc struct {
	ID, Description, Message, Vendor, VendorURL, Icon string
	Any, Inactive, Active                             uint32
	Annotations                                       map[string]string
}

// TestPolkitLoadsExactlyOurActions checks that polkitd loaded our actions
// file with its defaults, and no action of the host's.
func TestPolkitLoadsExactlyOurActions(t *testing.T) {
	b := sysbus.Start(t, sysbus.Options{})
	var actions []actionDesc
	err := b.Conn(t).Object("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority").Call(
		"org.freedesktop.PolicyKit1.Authority.EnumerateActions", 0, "").Store(&actions)
	if err != nil {
		t.Fatalf("EnumerateActions: %v\n%s", err, b.Logs())
	}
	got := map[string][3]uint32{}
	for _, a := range actions {
		got[a.ID] = [3]uint32{a.Any, a.Inactive, a.Active}
		if a.Description == "" || a.Message == "" {
			t.Errorf("%s: empty description or message", a.ID)
		}
	}
	want := map[string][3]uint32{
		"org.wgtray.connect": {implicitAuthAdmin, implicitAuthAdmin, implicitYes},
		"org.wgtray.manage":  {implicitAuthAdminKeep, implicitAuthAdminKeep, implicitAuthAdminKeep},
		// Hooks run as root: an administrator every time, never kept.
		"org.wgtray.manage-scripts": {implicitAuthAdmin, implicitAuthAdmin, implicitAuthAdmin},
	}
	if !maps.Equal(got, want) {
		t.Errorf("polkitd's actions (any, inactive, active) = %v, want %v (ids %v)", got, want, slices.Sorted(maps.Keys(got)))
	}
}

// TestPolkitGroupRule checks our rule the way the helper uses polkit: root
// asks about the caller's bus name. Without logind no caller is active, so
// only the rule for group wgtray can say yes; everyone else gets a
// challenge (auth_admin), which the helper turns into a refusal or an
// interactive prompt. The rule grants connect and manage, never
// manage-scripts: a member is challenged for that like everyone. Root
// itself is not asked about: the helper allows uid 0 without polkit.
func TestPolkitGroupRule(t *testing.T) {
	b := sysbus.Start(t, sysbus.Options{})
	root := b.Conn(t)
	member := sysbus.StartChild(t, b, sysbus.NewUser(t, "wgtray"))
	stranger := sysbus.StartChild(t, b, sysbus.NewUser(t))
	const (
		yes       = "authorized=true challenge=false"
		challenge = "authorized=false challenge=true"
	)
	for action, memberGets := range map[string]string{
		"org.wgtray.connect":        yes,
		"org.wgtray.manage":         yes,
		"org.wgtray.manage-scripts": challenge,
	} {
		for _, c := range []struct {
			who  string
			ch   *sysbus.Child
			want string
		}{
			{"member of wgtray", member, memberGets},
			{"user outside wgtray", stranger, challenge},
		} {
			res, err := sysbus.CheckAuthorization(root, sysbus.BusNameSubject(c.ch.Name), action)
			if err != nil {
				t.Fatalf("%s, %s: %v\n%s", c.who, action, err, b.Logs())
			}
			if res.String() != c.want {
				t.Errorf("%s, %s, asked by root about its bus name: %s, want %s", c.who, action, res, c.want)
			}
			// The same question asked by the user about its own process.
			if got := c.ch.Do(t, "check %s", action); got != c.want {
				t.Errorf("%s, %s, asked by itself about its process: %s, want %s", c.who, action, got, c.want)
			}
		}
	}
}

// TestPolkitExtraRules checks that Options.ExtraRules are loaded next to
// ours: here a rule that lets one user outside group wgtray connect.
func TestPolkitExtraRules(t *testing.T) {
	netns.RequireRootFor(t, "this test runs a private system bus")
	u := sysbus.NewUser(t)
	rule := fmt.Sprintf(`polkit.addRule(function(action, subject) {
    if (action.id == "org.wgtray.connect" && subject.user == %q) { return polkit.Result.YES; }
});
`, u.Name)
	b := sysbus.Start(t, sysbus.Options{ExtraRules: map[string]string{"60-test.rules": rule}})
	c := sysbus.StartChild(t, b, u)
	for action, want := range map[string]string{
		"org.wgtray.connect": "authorized=true challenge=false",
		"org.wgtray.manage":  "authorized=false challenge=true",
	} {
		res, err := sysbus.CheckAuthorization(b.Conn(t), sysbus.BusNameSubject(c.Name), action)
		if err != nil {
			t.Fatalf("%s: %v\n%s", action, err, b.Logs())
		}
		if res.String() != want {
			t.Errorf("%s for %s with the extra rule: %s, want %s", action, u.Name, res, want)
		}
	}
}
