package dns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/networkmanager"
)

// NetworkManager writes /etc/resolv.conf itself (its dns=default), from
// the DNS of its active connections, and rewrites it on every change: a
// re-activation, a DHCP renewal, networking off and on. A file written by
// anyone else lasts until then. So when NM owns the file, the tunnel's
// servers are given to NM as its global DNS configuration, which wins over
// every connection's: NM keeps writing them while the tunnel is up.

// NetworkManager's names are package networkmanager's.
const (
	nmName       = networkmanager.BusName
	nmPath       = networkmanager.Path
	nmIface      = networkmanager.Interface
	nmDNSPath    = networkmanager.Path + "/DnsManager"
	nmDNSIface   = "org.freedesktop.NetworkManager.DnsManager"
	nmGlobalProp = "GlobalDnsConfiguration"
)

// nmConfigDirs are where NetworkManager reads its configuration, besides
// NetworkManager.conf (NetworkManager.conf(5)); a [global-dns] section
// in any of them makes the global DNS read-only over D-Bus.
var nmConfigDirs = []string{"/usr/lib/NetworkManager/conf.d", "/run/NetworkManager/conf.d", "/etc/NetworkManager/conf.d"}

// nmConfigFile is NetworkManager's main configuration file.
const nmConfigFile = "/etc/NetworkManager/NetworkManager.conf"

// globalDNS is NetworkManager's global DNS configuration, the a{sv} of
// its GlobalDnsConfiguration property: search domains, resolver options,
// and per domain ("*" for every query) servers and options. The zero
// value is none: the connections' DNS applies.
type globalDNS struct {
	Searches []string             `json:"searches,omitempty"`
	Options  []string             `json:"options,omitempty"`
	Domains  map[string]dnsDomain `json:"domains,omitempty"`
}

// dnsDomain is one domain's entry in a globalDNS.
type dnsDomain struct {
	Servers []string `json:"servers,omitempty"`
	Options []string `json:"options,omitempty"`
}

// equal reports whether g and o configure the same: an empty list is no
// list, as NM reads them.
func (g globalDNS) equal(o globalDNS) bool {
	if !slices.Equal(g.Searches, o.Searches) || !slices.Equal(g.Options, o.Options) || len(g.Domains) != len(o.Domains) {
		return false
	}
	for name, d := range g.Domains {
		e, ok := o.Domains[name]
		if !ok || !slices.Equal(d.Servers, e.Servers) || !slices.Equal(d.Options, e.Options) {
			return false
		}
	}
	return true
}

func (g globalDNS) empty() bool { return g.equal(globalDNS{}) }

func (g globalDNS) String() string {
	if g.empty() {
		return "none"
	}
	var parts []string
	if len(g.Searches) > 0 {
		parts = append(parts, fmt.Sprintf("searches %q", g.Searches))
	}
	if len(g.Options) > 0 {
		parts = append(parts, fmt.Sprintf("options %q", g.Options))
	}
	names := make([]string, 0, len(g.Domains))
	for name := range g.Domains {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("domain %q servers %q", name, g.Domains[name].Servers))
	}
	return strings.Join(parts, ", ")
}

// variant is g as NM's property takes it. Empty keys are left out: NM
// reads a missing key as an empty list, and an empty map clears the
// configuration.
func (g globalDNS) variant() map[string]dbus.Variant {
	m := map[string]dbus.Variant{}
	if len(g.Searches) > 0 {
		m["searches"] = dbus.MakeVariant(g.Searches)
	}
	if len(g.Options) > 0 {
		m["options"] = dbus.MakeVariant(g.Options)
	}
	if len(g.Domains) > 0 {
		doms := map[string]dbus.Variant{}
		for name, d := range g.Domains {
			dm := map[string]dbus.Variant{}
			if len(d.Servers) > 0 {
				dm["servers"] = dbus.MakeVariant(d.Servers)
			}
			if len(d.Options) > 0 {
				dm["options"] = dbus.MakeVariant(d.Options)
			}
			doms[name] = dbus.MakeVariant(dm)
		}
		m["domains"] = dbus.MakeVariant(doms)
	}
	return m
}

// parseGlobalDNS reads the property's value. Keys it does not know are an
// error: restoring the configuration without them would not restore it.
func parseGlobalDNS(v dbus.Variant) (globalDNS, error) {
	var g globalDNS
	m, ok := v.Value().(map[string]dbus.Variant)
	if !ok {
		return g, fmt.Errorf("%s is %s, not a{sv}", nmGlobalProp, v.Signature())
	}
	for k, val := range m {
		var err error
		switch k {
		case "searches":
			err = val.Store(&g.Searches)
		case "options":
			err = val.Store(&g.Options)
		case "domains":
			doms, ok := val.Value().(map[string]dbus.Variant)
			if !ok {
				return g, fmt.Errorf("%s: domains is %s, not a{sv}", nmGlobalProp, val.Signature())
			}
			g.Domains = map[string]dnsDomain{}
			for name, dv := range doms {
				dm, ok := dv.Value().(map[string]dbus.Variant)
				if !ok {
					return g, fmt.Errorf("%s: domain %q is %s, not a{sv}", nmGlobalProp, name, dv.Signature())
				}
				var d dnsDomain
				for dk, dval := range dm {
					switch dk {
					case "servers":
						err = dval.Store(&d.Servers)
					case "options":
						err = dval.Store(&d.Options)
					default:
						err = fmt.Errorf("unknown key %q", dk)
					}
					if err != nil {
						return g, fmt.Errorf("%s: domain %q: %s: %w", nmGlobalProp, name, dk, err)
					}
				}
				g.Domains[name] = d
			}
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return g, fmt.Errorf("%s: %q: %w", nmGlobalProp, k, err)
		}
	}
	if len(g.Searches) == 0 {
		g.Searches = nil
	}
	if len(g.Options) == 0 {
		g.Options = nil
	}
	if len(g.Domains) == 0 {
		g.Domains = nil
	}
	return g, nil
}

// nmOwnsResolvConf reports whether NetworkManager runs on the system bus
// and writes resolv.conf itself — its DNS mode is not "none" (it leaves
// the file alone) or "systemd-resolved" (it gives DNS to resolved), and
// its rc-manager is not "unmanaged" — and why not when it does not.
func (h *Host) nmOwnsResolvConf(ctx context.Context) (bool, string) {
	bus, err := h.systemBus()
	if err != nil {
		return false, err.Error()
	}
	if !h.nameHasOwner(ctx, bus, nmName) {
		return false, "NetworkManager is not running"
	}
	obj := bus.Object(nmName, nmDNSPath)
	var mode, rc string
	for prop, dst := range map[string]*string{"Mode": &mode, "RcManager": &rc} {
		v, err := h.getProperty(ctx, obj, nmDNSIface+"."+prop)
		if err == nil {
			err = v.Store(dst)
		}
		if err != nil {
			return false, fmt.Sprintf("NetworkManager's DNS %s: %v", prop, err)
		}
	}
	switch {
	case mode == "none" || mode == "systemd-resolved":
		return false, fmt.Sprintf("NetworkManager's DNS mode is %q", mode)
	case rc == "unmanaged":
		return false, "NetworkManager leaves resolv.conf alone (rc-manager=unmanaged)"
	}
	return true, ""
}

// nameHasOwner reports whether name runs on bus now; it is not activated.
func (h *Host) nameHasOwner(ctx context.Context, bus *dbus.Conn, name string) bool {
	ctx, cancel, limit := h.withTimeout(ctx)
	defer cancel()
	var has bool
	if err := bus.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		h.Logger.Printf("ask the system bus for %s: %v", name, timedOut(ctx, limit, err))
		return false
	}
	return has
}

// getProperty reads one property (iface.Name) of NetworkManager within
// Timeout.
func (h *Host) getProperty(ctx context.Context, obj dbus.BusObject, prop string) (dbus.Variant, error) {
	ctx, cancel, limit := h.withTimeout(ctx)
	defer cancel()
	i := strings.LastIndexByte(prop, '.')
	var v dbus.Variant
	// No auto-start: a NetworkManager that was stopped stays stopped.
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", dbus.FlagNoAutoStart, prop[:i], prop[i+1:]).Store(&v)
	if err != nil {
		return v, timedOut(ctx, limit, err)
	}
	return v, nil
}

// errNMGone is the error of a call to a NetworkManager that does not run.
var errNMGone = errors.New("NetworkManager is not running")

// nmGlobal reads NetworkManager's global DNS configuration.
func (h *Host) nmGlobal(ctx context.Context) (globalDNS, error) {
	bus, err := h.systemBus()
	if err != nil {
		return globalDNS{}, err
	}
	v, err := h.getProperty(ctx, bus.Object(nmName, nmPath), nmIface+"."+nmGlobalProp)
	var derr dbus.Error
	if errors.As(err, &derr) && (derr.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || derr.Name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
		err = fmt.Errorf("%w (%v)", errNMGone, err)
	}
	if err != nil {
		return globalDNS{}, fmt.Errorf("NetworkManager: read %s: %w", nmGlobalProp, err)
	}
	return parseGlobalDNS(v)
}

// nmAwait waits, in the background, for NetworkManager to own its name
// on the bus again (the bus's NameOwnerChanged signal, no polling), and
// then gives it what the state composes. Once is enough: a second call
// while waiting does nothing.
func (h *Host) nmAwait() {
	bus, err := h.systemBus()
	if err != nil {
		h.Logger.Printf("wait for NetworkManager: %v", err)
		return
	}
	h.mu.Lock()
	if h.nmWait != nil {
		h.mu.Unlock()
		return
	}
	// NM takes its name before it exports its objects: the first try
	// may fail, and the next one waits for NM's next property change,
	// of which its start has many.
	owner := []dbus.MatchOption{dbus.WithMatchObjectPath("/org/freedesktop/DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, nmName)}
	props := []dbus.MatchOption{dbus.WithMatchSender(nmName), dbus.WithMatchObjectPath(nmPath),
		dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged")}
	if err := errors.Join(bus.AddMatchSignal(owner...), bus.AddMatchSignal(props...)); err != nil {
		bus.RemoveMatchSignal(owner...)
		bus.RemoveMatchSignal(props...)
		h.mu.Unlock()
		h.Logger.Printf("wait for NetworkManager: %v", err)
		return
	}
	ch := make(chan *dbus.Signal, 8)
	bus.Signal(ch)
	stop := make(chan struct{})
	h.nmWait = stop
	h.mu.Unlock()
	go func() {
		defer func() {
			bus.RemoveSignal(ch)
			bus.RemoveMatchSignal(owner...)
			bus.RemoveMatchSignal(props...)
		}()
		running, failed := false, ""
		for {
			select {
			case <-stop:
				return
			case sig, ok := <-ch:
				if !ok {
					return
				}
				switch {
				case sig.Name == "org.freedesktop.DBus.NameOwnerChanged" && len(sig.Body) == 3 && sig.Body[0] == nmName:
					running = sig.Body[2] != ""
				case sig.Name == "org.freedesktop.DBus.Properties.PropertiesChanged" && sig.Path == nmPath:
					running = true
				default:
					continue
				}
				if !running {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*h.timeout())
				err := h.nmRecover(ctx)
				cancel()
				if err == nil {
					h.nmStopAwait()
					return
				}
				// Logged once per kind of failure: NM's start sends
				// many changes.
				if err.Error() != failed {
					failed = err.Error()
					h.Logger.Printf("NetworkManager runs again; its global DNS is not set yet: %v", err)
				}
			}
		}
	}()
}

// nmStopAwait ends nmAwait's wait.
func (h *Host) nmStopAwait() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nmWait != nil {
		close(h.nmWait)
		h.nmWait = nil
	}
}

// nmSetGlobal sets NetworkManager's global DNS configuration, which NM
// applies at once and keeps in its NetworkManager-intern.conf.
func (h *Host) nmSetGlobal(ctx context.Context, g globalDNS) error {
	bus, err := h.systemBus()
	if err != nil {
		return err
	}
	ctx, cancel, limit := h.withTimeout(ctx)
	defer cancel()
	call := bus.Object(nmName, nmPath).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Set", dbus.FlagNoAutoStart,
		nmIface, nmGlobalProp, dbus.MakeVariant(g.variant()))
	if call.Err != nil {
		return fmt.Errorf("NetworkManager: set %s to %s: %w", nmGlobalProp, g, timedOut(ctx, limit, call.Err))
	}
	return nil
}

// nmConfigHasGlobalDNS returns the first of NetworkManager's
// configuration files that has a global DNS section, "" when none has:
// NM then refuses to set it over D-Bus ("already set via configuration
// file"), and the file is the only way left.
func nmConfigHasGlobalDNS() string {
	files := []string{nmConfigFile}
	for _, dir := range nmConfigDirs {
		m, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		files = append(files, m...)
	}
	for _, f := range files {
		if hasGlobalDNSSection(f) {
			return f
		}
	}
	return ""
}

// hasGlobalDNSSection reports whether the keyfile at path has a
// [global-dns] or [global-dns-domain-*] group.
func hasGlobalDNSSection(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "[global-dns]" || strings.HasPrefix(line, "[global-dns-domain-") {
			return true
		}
	}
	return false
}
