package ipc

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/wgtray/wgtray/internal/testenv/privbus"
)

func TestDiagnoseOptionsRoundTrip(t *testing.T) {
	for _, o := range []DiagnoseOptions{
		{},
		{Active: true},
		{Route: netip.MustParseAddr("203.0.113.7"), Port: 443, Proto: "tcp"},
		{Route: netip.MustParseAddr("2001:db8::1"), Proto: "udp", MTUHost: netip.MustParseAddr("198.51.100.2"), Active: true},
	} {
		got, err := DiagnoseOptionsFromMap(o.ToMap())
		if err != nil {
			t.Errorf("%+v: %v", o, err)
			continue
		}
		if diff := cmp.Diff(o, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestDiagnoseOptionsBad(t *testing.T) {
	for _, c := range []struct {
		m    map[string]dbus.Variant
		want string
	}{
		{map[string]dbus.Variant{"Color": dbus.MakeVariant("red")}, `unknown option "Color"`},
		{map[string]dbus.Variant{"Route": dbus.MakeVariant("example.com")}, "not an IP address"},
		{map[string]dbus.Variant{"Route": dbus.MakeVariant(int32(1))}, "want s"},
		{map[string]dbus.Variant{"Port": dbus.MakeVariant(uint32(80)), "Proto": dbus.MakeVariant("tcp")}, "want q"},
		{map[string]dbus.Variant{"Proto": dbus.MakeVariant("icmp")}, "neither tcp nor udp"},
		{map[string]dbus.Variant{"Port": dbus.MakeVariant(uint16(80))}, "needs Proto"},
		{map[string]dbus.Variant{"Active": dbus.MakeVariant("yes")}, "want b"},
	} {
		_, err := DiagnoseOptionsFromMap(c.m)
		if !errors.Is(err, ErrInvalidArgs) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want InvalidArgs saying %q", c.m, err, c.want)
		}
	}
}

func TestReportWorstAndSorted(t *testing.T) {
	r := Report{Checks: []Check{
		{ID: "a", Verdict: VerdictOK}, {ID: "b", Verdict: VerdictWarning}, {ID: "c", Verdict: VerdictProblem}, {ID: "d", Verdict: VerdictOK},
	}}
	if w := r.Worst(); w != VerdictProblem {
		t.Errorf("Worst = %s", w)
	}
	var ids []string
	for _, c := range r.Sorted() {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ""); got != "cbad" {
		t.Errorf("Sorted = %s, want cbad", got)
	}
	if w := (Report{}).Worst(); w != VerdictOK {
		t.Errorf("empty report: Worst = %s", w)
	}
}

func TestClientDiagnose(t *testing.T) {
	addr := privbus.Start(t)
	f := startHelper(t, addr)
	want := Report{Tunnels: []string{"home"}, Checks: []Check{{ID: "leaks.ipv4-default", Group: GroupLeaks, Tunnel: "home", Verdict: VerdictOK, Summary: "All IPv4 traffic goes through home."}},
		Routes: []Route{{Dest: "203.0.113.7", Ordinary: Hop{Type: "unicast", Table: 51820, Dev: "home", Sentence: "through home"}}}}
	f.set(func(f *fakeHelper) { f.report = want })
	c := NewClient(privbus.Connect(t, addr))
	got, err := c.Diagnose(t.Context(), "home", DiagnoseOptions{Active: true, Route: netip.MustParseAddr("203.0.113.7")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	calls := f.recorded()
	if len(calls) != 1 || calls[0].Method != MethodDiagnose || calls[0].Flags&dbus.FlagAllowInteractiveAuthorization != 0 {
		t.Fatalf("calls: %+v", calls)
	}
	opts, err := DiagnoseOptionsFromMap(calls[0].Args[1].(map[string]dbus.Variant))
	if err != nil || !opts.Active || opts.Route != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("options received: %+v, %v", opts, err)
	}
	f.set(func(f *fakeHelper) { f.errs["gone"] = ErrNotFound })
	if _, err := c.Diagnose(t.Context(), "gone", DiagnoseOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Diagnose(gone) = %v, want ErrNotFound", err)
	}
}
