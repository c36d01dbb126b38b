package dns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/wgtray/wgtray/helper/atomicfile"
	"github.com/wgtray/wgtray/helper/plan"
)

// NetworkManager keeps its global DNS configuration across its restarts
// and the machine's reboots (in NetworkManager-intern.conf), so what the
// tunnels set would outlive them after a crash or a power cut. As with
// the file (owner.go), the configuration before the first tunnel (the
// original) is kept in a durable state under LibDir with the connected
// tunnels; the configuration is composed from them, and the original
// comes back with the last one out, at --cleanup after a crash (the
// journal's inverse), or at the next start (Recover).

// nmStateName is the durable state of NetworkManager's global DNS, 0600.
const nmStateName = "nm-global-dns.json"

// nmState is the durable state of NetworkManager's global DNS while
// tunnels use it.
type nmState struct {
	// Original is the configuration to put back when no tunnel is left:
	// as found before the first tunnel, or as someone else set it since.
	Original globalDNS `json:"original"`
	// Tunnels are the connected tunnels, in connect order.
	Tunnels tunnelList `json:"tunnels"`
	// Written is what was last set; Writing, when set, is what is being
	// set now: a crash between the state and NM leaves one of the two.
	Written globalDNS  `json:"written"`
	Writing *globalDNS `json:"writing,omitempty"`
}

// ours reports whether cur is what the owner set (or is setting).
func (st *nmState) ours(cur globalDNS) bool {
	return cur.equal(st.Written) || (st.Writing != nil && cur.equal(*st.Writing))
}

// compose returns the configuration the tunnels need: their servers for
// every domain ("*") and their search domains, each once, in connect
// order; the original when no tunnel is left. Like the file, nothing of
// the original is kept while tunnels are up: its servers are the ones
// the tunnels replace.
func (st *nmState) compose() globalDNS {
	if len(st.Tunnels) == 0 {
		return st.Original
	}
	var g globalDNS
	var servers []string
	seenServer, seenSearch := map[netip.Addr]bool{}, map[string]bool{}
	for _, t := range st.Tunnels {
		for _, s := range t.Servers {
			if !seenServer[s] {
				seenServer[s] = true
				servers = append(servers, s.String())
			}
		}
		for _, d := range t.Search {
			if !seenSearch[d] {
				seenSearch[d] = true
				g.Searches = append(g.Searches, d)
			}
		}
	}
	g.Domains = map[string]dnsDomain{"*": {Servers: servers}}
	return g
}

// adoptIfForeign makes cur the original when the owner did not set it:
// someone else (nmcli, a desktop's settings) changed the global DNS while
// tunnels used it, and theirs is the one to stay.
func (h *Host) nmAdoptIfForeign(st *nmState, cur globalDNS) {
	if st.ours(cur) {
		return
	}
	h.Logger.Printf("NetworkManager's global DNS was changed by someone else while tunnels used it; that configuration (%s) is now the one to put back", cur)
	st.Original = cur
}

// nmSet adds the tunnel to NetworkManager's global DNS.
func (h *Host) nmSet(ctx context.Context, link string, d *plan.DNS) error {
	me, err := thisProcess()
	if err != nil {
		return err
	}
	return h.nmTx(ctx, true, func(st *nmState, cur globalDNS) (*nmState, error) {
		if st == nil {
			st = &nmState{Original: cur, Written: cur}
		}
		h.nmAdoptIfForeign(st, cur)
		st.Tunnels.put(fileTunnel{Link: link, Servers: d.Servers, Search: d.Search(), Process: me})
		return st, nil
	})
}

// nmRevert takes the tunnel out; the last one out puts the original
// back. A tunnel that is not in it is fine: Revert is idempotent.
func (h *Host) nmRevert(ctx context.Context, link string) error {
	return h.nmTx(ctx, false, func(st *nmState, cur globalDNS) (*nmState, error) {
		if st == nil {
			return nil, nil
		}
		h.nmAdoptIfForeign(st, cur)
		st.Tunnels.drop(link)
		return st, nil
	})
}

// nmRecover drops the tunnels whose helper is gone and sets what the
// others need, the original when none is left.
func (h *Host) nmRecover(ctx context.Context) error {
	if _, err := os.Lstat(filepath.Join(h.LibDir, nmStateName)); h.LibDir == "" || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	me, err := thisProcess()
	if err != nil {
		return err
	}
	return h.nmTx(ctx, false, func(st *nmState, cur globalDNS) (*nmState, error) {
		if st == nil {
			return nil, nil
		}
		kept := st.Tunnels[:0]
		for _, t := range st.Tunnels {
			if t.Process.runs(me) {
				kept = append(kept, t)
				continue
			}
			h.Logger.Printf("tunnel %q of helper process %d is gone (crash or reboot): its DNS servers leave NetworkManager's global DNS", t.Link, t.Process.PID)
		}
		st.Tunnels = kept
		h.nmAdoptIfForeign(st, cur)
		return st, nil
	})
}

// nmTx runs change on the durable state and NM's configuration as they
// are now, under LibDir's lock, then makes both what change returned: the
// composed configuration, and no state once no tunnel is left. change
// gets a nil state when there is none (and, unless create, is not called
// then), and returns nil to change nothing.
func (h *Host) nmTx(ctx context.Context, create bool, change func(st *nmState, cur globalDNS) (*nmState, error)) error {
	dir, err := h.libDir()
	if err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	statePath := filepath.Join(dir, nmStateName)
	raw, st, err := loadNMState(statePath)
	if err != nil || (st == nil && !create) {
		return err
	}
	cur, err := h.nmGlobalAPI().get(ctx)
	if errors.Is(err, errNMGone) && st != nil && !create {
		return h.nmPending(statePath, st, change)
	}
	if err != nil {
		return err
	}
	st, err = change(st, cur)
	if err != nil || st == nil {
		return err
	}
	target := st.compose()
	if !cur.equal(target) {
		st.Writing = &target
		if err := saveJSON(statePath, st); err != nil {
			return err
		}
		if err := h.nmGlobalAPI().set(ctx, target); err != nil {
			// NM has what it had: so must the state, or a tunnel that
			// failed to connect would stay in it.
			return errors.Join(err, restoreState(statePath, raw))
		}
		h.Logger.Printf("NetworkManager's global DNS is now %s (was %s)", target, cur)
	}
	if len(st.Tunnels) == 0 {
		if err := atomicfile.Remove(statePath); err != nil {
			return err
		}
		// A restore that waited for NM is done: nothing else had to wait.
		h.nmStopAwait()
		return nil
	}
	st.Written, st.Writing = target, nil
	return saveJSON(statePath, st)
}

// nmPending is nmTx while NetworkManager does not run: a tunnel that
// goes must not fail to, so it leaves the state, which stays (even with no
// tunnel) until NM runs again and is given what the state composes. NM
// starts again with what it was last given, which is Written.
func (h *Host) nmPending(statePath string, st *nmState, change func(st *nmState, cur globalDNS) (*nmState, error)) error {
	next, err := change(st, st.Written)
	if err != nil || next == nil {
		return err
	}
	if err := saveJSON(statePath, next); err != nil {
		return err
	}
	h.Logger.Printf("NetworkManager is not running: its global DNS becomes %s when it runs again", next.compose())
	if h.nmAPI == nil {
		h.nmAwait()
	}
	return nil
}

// globalDNSAPI reads and sets NetworkManager's global DNS: over D-Bus,
// or in tests a fake.
type globalDNSAPI interface {
	get(ctx context.Context) (globalDNS, error)
	set(ctx context.Context, g globalDNS) error
}

// nmBusAPI is the globalDNSAPI of the NetworkManager on the system bus.
type nmBusAPI struct{ h *Host }

func (a nmBusAPI) get(ctx context.Context) (globalDNS, error) { return a.h.nmGlobal(ctx) }
func (a nmBusAPI) set(ctx context.Context, g globalDNS) error { return a.h.nmSetGlobal(ctx, g) }

func (h *Host) nmGlobalAPI() globalDNSAPI {
	if h.nmAPI != nil {
		return h.nmAPI
	}
	return nmBusAPI{h}
}

// loadNMState reads the state, nil when there is none, and its bytes.
func loadNMState(path string) ([]byte, *nmState, error) {
	var st nmState
	raw, err := readState(path, &st)
	var d *damagedError
	if errors.As(err, &d) {
		return nil, nil, fmt.Errorf("%s is damaged (%v); it keeps NetworkManager's global DNS to put back: repair or remove it by hand", path, d.err)
	}
	if raw == nil || err != nil {
		return nil, nil, err
	}
	return raw, &st, nil
}

// saveJSON writes v durably, readable by this user only.
func saveJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600, os.Geteuid(), os.Getegid())
}
