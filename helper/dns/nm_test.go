package dns

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/plan"
)

// fakeNM is NetworkManager's global DNS as a value: what it was set to,
// how many times, and a failure to give on the next set.
type fakeNM struct {
	cur  globalDNS
	sets int
	fail error
	gone bool // NM does not run
}

func (f *fakeNM) get(context.Context) (globalDNS, error) {
	if f.gone {
		return globalDNS{}, errNMGone
	}
	return f.cur, nil
}

func (f *fakeNM) set(_ context.Context, g globalDNS) error {
	if f.gone {
		return errNMGone
	}
	if f.fail != nil {
		err := f.fail
		f.fail = nil
		return err
	}
	f.sets++
	f.cur = g
	return nil
}

func newNMHost(t *testing.T, orig globalDNS) (*Host, *fakeNM, *strings.Builder) {
	t.Helper()
	h, logs := newHost(t)
	nm := &fakeNM{cur: orig}
	h.nmAPI = nm
	return h, nm, logs
}

func nmDNS(server string, search ...string) *plan.DNS {
	d := &plan.DNS{Manager: plan.DNSNetworkManager, Servers: []netip.Addr{netip.MustParseAddr(server)}}
	for _, s := range search {
		d.Domains = append(d.Domains, plan.Domain{Name: s})
	}
	// A routing domain has no place in NM's global DNS: resolv.conf
	// cannot express it.
	d.Domains = append(d.Domains, plan.Domain{Name: "route.example", RouteOnly: true})
	return d
}

// userGlobal is a global DNS that someone set before the first tunnel.
var userGlobal = globalDNS{
	Searches: []string{"lan.example"},
	Options:  []string{"timeout:2"},
	Domains:  map[string]dnsDomain{"*": {Servers: []string{"192.0.2.53"}}, "corp.example": {Servers: []string{"192.0.2.54"}, Options: []string{"rotate"}}},
}

// TestNMCompose: two tunnels share NM's global DNS in connect order,
// each server and search domain once; taking them out in either order
// leaves the other's, and the last one out puts back exactly what was
// there, nothing or the user's own.
func TestNMCompose(t *testing.T) {
	for _, tc := range []struct {
		name string
		orig globalDNS
	}{{"none", globalDNS{}}, {"user's", userGlobal}} {
		t.Run(tc.name, func(t *testing.T) {
			h, nm, _ := newNMHost(t, tc.orig)
			ctx := t.Context()
			if err := h.Set(ctx, "wg0", nmDNS("203.0.113.1", "a.example", "corp.example")); err != nil {
				t.Fatal(err)
			}
			if err := h.Set(ctx, "wg1", nmDNS("203.0.113.1", "corp.example", "b.example")); err != nil {
				t.Fatal(err)
			}
			if err := h.Set(ctx, "wg2", nmDNS("2001:db8:3::1")); err != nil {
				t.Fatal(err)
			}
			want := globalDNS{Searches: []string{"a.example", "corp.example", "b.example"},
				Domains: map[string]dnsDomain{"*": {Servers: []string{"203.0.113.1", "2001:db8:3::1"}}}}
			if !nm.cur.equal(want) {
				t.Fatalf("three tunnels: NM has %s, want %s", nm.cur, want)
			}
			if err := h.Revert(ctx, "wg0", nmDNS("203.0.113.1")); err != nil {
				t.Fatal(err)
			}
			want.Searches = []string{"corp.example", "b.example"}
			if !nm.cur.equal(want) {
				t.Fatalf("wg0 out: NM has %s, want %s", nm.cur, want)
			}
			for _, link := range []string{"wg2", "wg1", "wg1"} { // the last one twice: Revert is idempotent
				if err := h.Revert(ctx, link, nmDNS("203.0.113.1")); err != nil {
					t.Fatal(err)
				}
			}
			if !nm.cur.equal(tc.orig) {
				t.Errorf("all out: NM has %s, want the original %s", nm.cur, tc.orig)
			}
			if _, err := os.Stat(filepath.Join(h.LibDir, nmStateName)); err == nil {
				t.Errorf("the state outlived the last tunnel")
			}
		})
	}
}

// TestNMForeignChange: a global DNS that someone else set while a tunnel
// used NM's is the one left after the disconnect.
func TestNMForeignChange(t *testing.T) {
	h, nm, logs := newNMHost(t, globalDNS{})
	ctx := t.Context()
	if err := h.Set(ctx, "wg0", nmDNS("203.0.113.1")); err != nil {
		t.Fatal(err)
	}
	nm.cur = userGlobal
	if err := h.Revert(ctx, "wg0", nmDNS("203.0.113.1")); err != nil {
		t.Fatal(err)
	}
	if !nm.cur.equal(userGlobal) {
		t.Errorf("NM has %s, want the one set meanwhile, %s", nm.cur, userGlobal)
	}
	if !strings.Contains(logs.String(), "changed by someone else") {
		t.Errorf("no log of the foreign change: %q", logs.String())
	}
}

// TestNMSetFails: when NM refuses the configuration, the state is as
// before, so that the original is not lost and no tunnel stays in it.
func TestNMSetFails(t *testing.T) {
	h, nm, _ := newNMHost(t, userGlobal)
	nm.fail = errors.New("Global DNS configuration already set via configuration file")
	if err := h.Set(t.Context(), "wg0", nmDNS("203.0.113.1")); err == nil || !strings.Contains(err.Error(), "configuration file") {
		t.Fatalf("Set: %v, want NM's refusal", err)
	}
	if _, err := os.Stat(filepath.Join(h.LibDir, nmStateName)); err == nil {
		t.Errorf("a failed first Set left a state")
	}
	if !nm.cur.equal(userGlobal) || nm.sets != 0 {
		t.Errorf("NM has %s after %d sets", nm.cur, nm.sets)
	}
}

// TestNMRecover: a tunnel whose helper is gone leaves NM's global DNS at
// the next start, and with none left the original comes back; a tunnel
// of a running helper stays.
func TestNMRecover(t *testing.T) {
	h, nm, _ := newNMHost(t, userGlobal)
	ctx := t.Context()
	for _, link := range []string{"wg0", "wg1"} {
		if err := h.Set(ctx, link, nmDNS("203.0.113.1")); err != nil {
			t.Fatal(err)
		}
	}
	// wg0's helper died: its process becomes one that never ran.
	statePath := filepath.Join(h.LibDir, nmStateName)
	_, st, err := loadNMState(statePath)
	if err != nil {
		t.Fatal(err)
	}
	st.Tunnels[0].Process.Start++
	if err := saveJSON(statePath, st); err != nil {
		t.Fatal(err)
	}
	if err := h.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	_, st, err = loadNMState(statePath)
	if err != nil || st == nil || len(st.Tunnels) != 1 || st.Tunnels[0].Link != "wg1" {
		t.Fatalf("after Recover the state is %+v (%v), want wg1 only", st, err)
	}
	st.Tunnels[0].Process.Start++
	if err := saveJSON(statePath, st); err != nil {
		t.Fatal(err)
	}
	if err := h.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if !nm.cur.equal(userGlobal) {
		t.Errorf("after the last dead tunnel NM has %s, want %s", nm.cur, userGlobal)
	}
	if _, err := os.Stat(statePath); err == nil {
		t.Errorf("the state outlived the last tunnel")
	}
}

// TestGlobalDNSVariant: the property's value goes to NM and comes back
// the same, without keys for empty lists; an unknown key is refused.
func TestGlobalDNSVariant(t *testing.T) {
	for _, g := range []globalDNS{{}, userGlobal, {Domains: map[string]dnsDomain{"*": {Servers: []string{"203.0.113.1"}}}}} {
		v := dbus.MakeVariant(g.variant())
		got, err := parseGlobalDNS(v)
		if err != nil || !got.equal(g) {
			t.Errorf("%s came back as %s (%v)", g, got, err)
		}
	}
	if m := (globalDNS{}).variant(); len(m) != 0 {
		t.Errorf("no configuration is %v, want an empty a{sv}", m)
	}
	bad := dbus.MakeVariant(map[string]dbus.Variant{"searches": dbus.MakeVariant([]string{"a"}), "future": dbus.MakeVariant(1)})
	if _, err := parseGlobalDNS(bad); err == nil {
		t.Errorf("a key it does not know was accepted")
	}
}

// TestHasGlobalDNSSection: NM's own configuration with a global DNS makes
// the D-Bus property read-only.
func TestHasGlobalDNSSection(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"yes.conf":    "[main]\ndns=default\n\n[global-dns-domain-*]\nservers=192.0.2.1\n",
		"search.conf": " [global-dns]\nsearches=a.example\n",
		"no.conf":     "[main]\ndns=default\n# [global-dns]\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, want := hasGlobalDNSSection(path), name != "no.conf"; got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// TestNMGone: a tunnel disconnected while NetworkManager does not run
// goes (Revert must not fail), and the original is given to NM once it
// runs again.
func TestNMGone(t *testing.T) {
	h, nm, logs := newNMHost(t, userGlobal)
	ctx := t.Context()
	if err := h.Set(ctx, "wg0", nmDNS("203.0.113.1")); err != nil {
		t.Fatal(err)
	}
	nm.gone = true
	if err := h.Revert(ctx, "wg0", nmDNS("203.0.113.1")); err != nil {
		t.Fatalf("Revert with NM gone: %v", err)
	}
	if !strings.Contains(logs.String(), "not running") {
		t.Errorf("no log of the wait for NM: %q", logs.String())
	}
	statePath := filepath.Join(h.LibDir, nmStateName)
	if _, err := os.Stat(statePath); err != nil {
		t.Fatalf("the state went while the original was not back: %v", err)
	}
	// NM starts again with what it had (its intern file); what the
	// signal of its return runs:
	nm.gone = false
	if err := h.nmRecover(ctx); err != nil {
		t.Fatal(err)
	}
	if !nm.cur.equal(userGlobal) {
		t.Errorf("NM back: it has %s, want %s", nm.cur, userGlobal)
	}
	if _, err := os.Stat(statePath); err == nil {
		t.Errorf("the state outlived the restore")
	}
}
