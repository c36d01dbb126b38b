// Package enginetest provides a fake engine.System: a machine kept in
// memory, at the same layer as the kernel's engine.Linux, so that the
// engine and the helper's D-Bus server can be tested without root, network
// namespaces or WireGuard.
//
// The fake models the machine as a set of objects, one for each thing a
// plan.Op creates (a link, an address, a route, a rule, an nftables table,
// a sysctl's value, a tunnel's DNS, an unreachable route), keyed by what
// identifies it to the kernel. Deleting a link deletes what the kernel
// deletes with it (its device configuration, addresses and routes). It
// behaves the way the System contract asks and the kernel does: adding
// what exists fails, changing a link that does not exist fails, and
// deleting what is gone succeeds. Every Apply is logged as one line, and
// failures can be injected before or after the change is made, since the
// kernel can fail after having made one.
//
// The package does not import package engine, so that the engine's own
// internal tests can use it too; the tests assert that *System satisfies
// engine.System.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
)

// ErrInjected is the error of an injected failure whose Err is nil.
var ErrInjected = errors.New("injected failure")

// SrcValidMark is the sysctl that a full IPv4 tunnel sets, which the fake
// knows from the start with the value "0", as a fresh machine has it.
const SrcValidMark = "net.ipv4.conf.all.src_valid_mark"

// Failure makes one Apply fail. It fires once, on the Nth Apply of Kind
// after Fail armed it, and is then forgotten.
type Failure struct {
	// Kind restricts the failure to operations of one kind; "" matches
	// every kind.
	Kind plan.Kind
	// Nth counts the matching Applies from when the failure was armed,
	// starting at 1; 0 means the first.
	Nth int
	// After makes the change before failing, as the kernel sometimes does
	// (a netlink reply lost after the route was added): the engine must
	// undo it all the same.
	After bool
	// Err is returned, wrapped with the operation's kind (the engine
	// adds the whole operation); ErrInjected when nil.
	Err error
}

// pending is an armed failure and how many matching Applies it has seen.
type pending struct {
	Failure
	seen int
}

// object is one thing on the machine.
type object struct {
	value string
	// link is the link whose deletion deletes the object too, "" when
	// the object outlives every link (rules, tables, sysctls, DNS).
	link string
	// device is the configuration of a link's WireGuard device.
	device *wgtypes.Config
	// route and rule are set for routes and rules, whose tables and
	// priorities Facts reports as the kernel would list them.
	route *plan.Route
	rule  *plan.Rule
	// id is a link's ifindex or a table's handle; foreign marks one that
	// AddForeign made.
	id      uint64
	foreign bool
}

// System is a fake machine. Its methods are safe for concurrent use, as
// the engine and the server call it from their own goroutines while the
// test inspects it.
type System struct {
	mu       sync.Mutex
	facts    plan.Facts
	factsErr error
	hosts    map[string]netip.Addr
	objects  map[string]object
	log      []string
	calls    int
	failures []*pending
	before   func(n int, op plan.Op)
	serial   uint64 // the last identity given to a link or table
	noIPv6   bool   // booted with ipv6.disable=1
}

// New returns a machine as a fresh Linux install has it: the main and
// local routing tables in use, the kernel's default policy rules, a path
// MTU of 1500, systemd-resolved for DNS and src_valid_mark off.
func New() *System {
	s := &System{
		facts: plan.Facts{
			UsedTables: map[uint32]bool{plan.MainTable: true, 255: true},
			RulePrefs4: []uint32{0, 32766, 32767},
			RulePrefs6: []uint32{0, 32766},
			PathMTU:    1500,
			DNS:        plan.DNSFacts{Manager: plan.DNSResolved},
		},
		hosts:   map[string]netip.Addr{},
		objects: map[string]object{},
	}
	s.objects[sysctlKey(SrcValidMark)] = object{value: "0"}
	return s
}

// SetFacts replaces the facts of the machine as it was before any Apply.
// Facts adds to them what the applied operations changed, as the kernel
// would report it.
func (s *System) SetFacts(f plan.Facts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.facts = f
}

// FailFacts makes every later Facts fail with err; nil undoes it.
func (s *System) FailFacts(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.factsErr = err
}

// SetHost makes the host name resolve to addr in peers' endpoints. Names
// not set do not resolve, so that no test depends on the real DNS.
func (s *System) SetHost(name string, addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts[name] = addr
}

// SetSysctl gives the sysctl key a value. Only sysctls that exist can be
// written by a SysctlSet, as in /proc/sys.
func (s *System) SetSysctl(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[sysctlKey(key)] = object{value: value}
}

// Fail arms a failure. Several may be armed at once; each fires once.
func (s *System) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &pending{Failure: f})
}

// BeforeApply makes every later Apply call hook first, with the number of
// the Apply (counting from 1 since New) and its operation. It runs without
// the fake's lock held, so it may call the fake, and it lets a test act in
// the middle of a plan (cancel the context of an Up, say). nil removes it.
func (s *System) BeforeApply(hook func(n int, op plan.Op)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = hook
}

// Log returns one line for each Apply since New or the last ResetLog, in
// order: the operation's String, followed, for an Apply that failed, by
// how it failed.
func (s *System) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ResetLog forgets the Applies logged so far, for a test that checks only
// what happens after its setup.
func (s *System) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// State returns the machine's objects, one line each, sorted: the
// object's key, then " = " and its value if it has one. Two machines in
// the same state have equal States, so a test compares the State before
// and after.
func (s *System) State() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.objects))
	for k, o := range s.objects {
		if o.value != "" {
			k += " = " + o.value
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Links returns the names of the links on the machine, sorted.
func (s *System) Links() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objects {
		if name, ok := strings.CutPrefix(k, "link "); ok && !strings.Contains(name, " ") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// LinkExists reports whether the machine has a link called name, standing
// in for engine.Linux's.
func (s *System) LinkExists(name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[linkKey(name)]
	return ok, nil
}

// RemoveLink deletes a link and what goes with it the way someone running
// `ip link del` would: behind the engine's back, and not logged as an
// Apply. It reports whether the link existed.
func (s *System) RemoveLink(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[linkKey(name)]
	s.deleteLink(name)
	return ok
}

// Device returns the WireGuard device of a link as the last Configure set
// it up, standing in for engine.Linux's Devices. A link that does not
// exist, or has not been configured, is an error matching os.ErrNotExist.
func (s *System) Device(name string) (*wgtypes.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[deviceKey(name)]
	if !ok || o.device == nil {
		return nil, fmt.Errorf("device %q: %w", name, os.ErrNotExist)
	}
	c := o.device
	d := &wgtypes.Device{Name: name, Type: wgtypes.LinuxKernel}
	if c.PrivateKey != nil {
		d.PrivateKey = *c.PrivateKey
		d.PublicKey = c.PrivateKey.PublicKey()
	}
	if c.ListenPort != nil {
		d.ListenPort = *c.ListenPort
	}
	if c.FirewallMark != nil {
		d.FirewallMark = *c.FirewallMark
	}
	for _, p := range c.Peers {
		peer := wgtypes.Peer{PublicKey: p.PublicKey, Endpoint: p.Endpoint, AllowedIPs: slices.Clone(p.AllowedIPs), ProtocolVersion: 1}
		if p.PresharedKey != nil {
			peer.PresharedKey = *p.PresharedKey
		}
		if p.PersistentKeepaliveInterval != nil {
			peer.PersistentKeepaliveInterval = *p.PersistentKeepaliveInterval
		}
		d.Peers = append(d.Peers, peer)
	}
	return d, nil
}

// Facts returns the facts set with SetFacts, updated with the routing
// tables, rule priorities and src_valid_mark that the applied operations
// changed, and the peers' endpoints resolved. Like engine.Linux it fails
// when the link exists already. It does no I/O, so it ignores ctx, as
// engine.Linux does for endpoints given as addresses.
func (s *System) Facts(_ context.Context, link string, cfg *config.Config) (plan.Facts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.factsErr != nil {
		return plan.Facts{}, s.factsErr
	}
	if _, ok := s.objects[linkKey(link)]; ok {
		return plan.Facts{}, fmt.Errorf("link %q already exists", link)
	}
	f := s.facts
	f.UsedTables = map[uint32]bool{}
	for t := range s.facts.UsedTables {
		f.UsedTables[t] = true
	}
	f.RulePrefs4 = slices.Clone(s.facts.RulePrefs4)
	f.RulePrefs6 = slices.Clone(s.facts.RulePrefs6)
	for _, o := range s.objects {
		switch {
		case o.route != nil:
			f.UsedTables[o.route.Table] = true
		case o.rule != nil && o.rule.Family == plan.IPv6:
			f.RulePrefs6 = append(f.RulePrefs6, o.rule.Priority)
		case o.rule != nil:
			f.RulePrefs4 = append(f.RulePrefs4, o.rule.Priority)
		}
	}
	// The kernel lists rules by priority.
	slices.Sort(f.RulePrefs4)
	slices.Sort(f.RulePrefs6)
	if o, ok := s.objects[sysctlKey(SrcValidMark)]; ok {
		f.SrcValidMark = o.value
	}
	f.NoIPv6 = s.noIPv6
	f.Endpoints = map[int]netip.AddrPort{}
	for i, p := range cfg.Peers {
		if p.Endpoint == nil {
			continue
		}
		a, err := netip.ParseAddr(p.Endpoint.Host)
		if err != nil {
			var ok bool
			if a, ok = s.hosts[p.Endpoint.Host]; !ok {
				return plan.Facts{}, fmt.Errorf("resolve endpoint %q: no such host", p.Endpoint.Host)
			}
		}
		f.Endpoints[i] = netip.AddrPortFrom(a.Unmap(), p.Endpoint.Port)
	}
	if len(cfg.Interface.DNS) == 0 {
		f.DNS = plan.DNSFacts{}
	}
	return f, nil
}

// Apply performs one operation on the fake machine, or fails as armed.
// Like Facts it ignores ctx: the engine checks it between steps.
func (s *System) Apply(_ context.Context, op plan.Op) (plan.ID, error) {
	s.mu.Lock()
	s.calls++
	n, hook := s.calls, s.before
	s.mu.Unlock()
	if hook != nil {
		hook(n, op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	line := op.String()
	if s.noIPv6 && isIPv6(op) {
		s.log = append(s.log, line+" (no IPv6)")
		return plan.ID{}, fmt.Errorf("fake %s: %w", op.Kind, syscall.EAFNOSUPPORT)
	}
	f := s.takeFailure(op)
	if f != nil && !f.After {
		s.log = append(s.log, line+" (failed before the change)")
		return plan.ID{}, fmt.Errorf("fake %s: %w", op.Kind, f.err())
	}
	id, err := s.apply(op)
	if err != nil {
		s.log = append(s.log, line+" (error: "+err.Error()+")")
		return plan.ID{}, err
	}
	if f != nil {
		s.log = append(s.log, line+" (failed after the change)")
		return plan.ID{}, fmt.Errorf("fake %s: %w", op.Kind, f.err())
	}
	s.log = append(s.log, line)
	return id, nil
}

func (f *pending) err() error {
	if f.Err != nil {
		return f.Err
	}
	return ErrInjected
}

// takeFailure returns the armed failure that fires on op, removing it.
func (s *System) takeFailure(op plan.Op) *pending {
	for i, f := range s.failures {
		if f.Kind != "" && f.Kind != op.Kind {
			continue
		}
		f.seen++
		if f.seen >= max(f.Nth, 1) {
			s.failures = slices.Delete(s.failures, i, i+1)
			return f
		}
	}
	return nil
}

// apply changes the objects, failing where the kernel would, and returns
// the identity of a link or table it made.
func (s *System) apply(op plan.Op) (plan.ID, error) {
	switch op.Kind {
	case plan.LinkAdd:
		id, err := s.addOwned(linkKey(op.Link), object{})
		return plan.ID{Index: int(id)}, err
	case plan.LinkDel:
		if s.owns(linkKey(op.Link), uint64(op.ID.Index)) {
			s.deleteLink(op.Link)
		}
		return plan.ID{}, nil
	case plan.FWAdd:
		// engine.Linux reads the link's addresses to build the table.
		if err := s.needLink(op.Link); err != nil {
			return plan.ID{}, err
		}
		fw := op.Firewall
		id, err := s.addOwned(fwKey(*fw), object{value: fmt.Sprintf("iif %s mark %#x", op.Link, fw.Mark)})
		return plan.ID{Handle: id}, err
	case plan.FWDel:
		if k := fwKey(*op.Firewall); s.owns(k, op.ID.Handle) {
			delete(s.objects, k)
		}
		return plan.ID{}, nil
	}
	return plan.ID{}, s.applyOther(op)
}

// addOwned adds an object that gets an identity, as links (ifindex) and
// nftables tables (handle) do, and returns it.
func (s *System) addOwned(key string, o object) (uint64, error) {
	s.serial++
	o.id = s.serial
	return o.id, s.add(key, o)
}

// owns reports whether a delete with identity id (0: none recorded) may
// delete the object at key: the one with that identity, or, without one,
// any object not added with AddForeign — engine.Linux remembers what its
// process made.
func (s *System) owns(key string, id uint64) bool {
	o, ok := s.objects[key]
	if !ok {
		return false
	}
	if id != 0 {
		return o.id == id
	}
	return !o.foreign
}

// DisableIPv6 makes the machine one booted with ipv6.disable=1: Facts
// report NoIPv6 and every IPv6 operation fails with EAFNOSUPPORT, as the
// kernel's netlink answers for a family it does not have.
func (s *System) DisableIPv6() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noIPv6 = true
}

// isIPv6 reports whether op works on IPv6.
func isIPv6(op plan.Op) bool {
	switch {
	case op.Rule != nil:
		return op.Rule.Family == plan.IPv6
	case op.Firewall != nil:
		return op.Firewall.Family == plan.IPv6
	case op.Route != nil:
		return op.Route.Dst.Addr().Is6()
	case op.Addr.IsValid():
		return op.Addr.Addr().Is6()
	}
	return false
}

// AddForeign puts a link or nftables table of another program on the
// machine, as a test's "ip link add" or "nft add table" would: the engine
// must fail on it and never delete it.
func (s *System) AddForeign(kind plan.Kind, name string, fam plan.Family) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serial++
	o := object{id: s.serial, foreign: true, value: "foreign"}
	switch kind {
	case plan.LinkAdd:
		s.objects[linkKey(name)] = o
	case plan.FWAdd:
		s.objects[fwKey(plan.Firewall{Family: fam, Table: name})] = o
	default:
		panic("enginetest: AddForeign of " + string(kind))
	}
}

// applyOther applies the operations whose objects need no identity.
func (s *System) applyOther(op plan.Op) error {
	switch op.Kind {
	case plan.KSHold:
		s.objects["block live "+op.Link] = object{value: op.Block.String()} // not the link's: deleting the link leaves it
		return nil
	case plan.KSRelease:
		delete(s.objects, "block live "+op.Link)
		return nil
	case plan.KSKeep:
		s.objects["block kept "+op.Link] = object{value: op.Block.String()}
		return nil
	case plan.KSDrop:
		delete(s.objects, "block kept "+op.Link)
		return nil
	case plan.KSLockdown:
		if op.Block == nil {
			delete(s.objects, "block lockdown")
		} else {
			s.objects["block lockdown"] = object{value: op.Block.String()}
		}
		return nil
	case plan.Configure:
		if err := s.needLink(op.Link); err != nil {
			return err
		}
		o := object{link: op.Link, value: strings.TrimPrefix(op.String(), "configure "+op.Link+" ")}
		if op.Device != nil {
			c := op.Device.Config
			o.device = &c
		}
		s.objects[deviceKey(op.Link)] = o
		return nil
	case plan.AddrAdd:
		if err := s.needLink(op.Link); err != nil {
			return err
		}
		return s.add(fmt.Sprintf("addr %v dev %s", op.Addr, op.Link), object{link: op.Link})
	case plan.LinkUp:
		if err := s.needLink(op.Link); err != nil {
			return err
		}
		s.objects[linkKey(op.Link)+" up"] = object{link: op.Link, value: fmt.Sprintf("mtu %d", op.MTU)}
		return nil
	case plan.RouteAdd:
		if err := s.needLink(op.Link); err != nil {
			return err
		}
		r := *op.Route
		return s.add(fmt.Sprintf("route %v %v dev %s table %d", plan.FamilyOf(r.Dst.Addr()), r.Dst, op.Link, r.Table), object{link: op.Link, route: &r})
	case plan.BlockAdd:
		r := *op.Route
		return s.add(blockKey(r), object{route: &r})
	case plan.BlockDel:
		delete(s.objects, blockKey(*op.Route))
		return nil
	case plan.RuleAdd:
		r := *op.Rule
		return s.add(ruleKey(r), object{rule: &r})
	case plan.RuleDel:
		delete(s.objects, ruleKey(*op.Rule))
		return nil
	case plan.SysctlSet:
		k := sysctlKey(op.Sysctl.Key)
		cur, ok := s.objects[k]
		if !ok {
			return fmt.Errorf("write sysctl %s: %w", op.Sysctl.Key, os.ErrNotExist)
		}
		if op.Sysctl.Expect != "" && cur.value != op.Sysctl.Expect {
			return nil // someone else's value since: kept, as engine.Linux keeps it
		}
		s.objects[k] = object{value: op.Sysctl.Value}
		return nil
	case plan.DNSSet:
		s.objects["dns "+op.Link] = object{value: op.DNS.String()}
		return nil
	case plan.DNSRevert:
		delete(s.objects, "dns "+op.Link)
		return nil
	case plan.Hooks:
		// Hooks run commands; they leave nothing the fake could model.
		return nil
	}
	return fmt.Errorf("unknown operation %q", string(op.Kind))
}

// add creates an object that must not exist yet.
func (s *System) add(key string, o object) error {
	if _, ok := s.objects[key]; ok {
		return fmt.Errorf("add %s: %w", key, syscall.EEXIST)
	}
	s.objects[key] = o
	return nil
}

func (s *System) needLink(name string) error {
	if _, ok := s.objects[linkKey(name)]; !ok {
		return fmt.Errorf("find link %q: %w", name, os.ErrNotExist)
	}
	return nil
}

// deleteLink deletes a link and everything the kernel deletes with it.
func (s *System) deleteLink(name string) {
	delete(s.objects, linkKey(name))
	for k, o := range s.objects {
		if o.link == name {
			delete(s.objects, k)
		}
	}
}

func linkKey(name string) string   { return "link " + name }
func deviceKey(name string) string { return "link " + name + " device" }
func sysctlKey(key string) string  { return "sysctl " + key }
func ruleKey(r plan.Rule) string   { return "rule " + r.String() }

func blockKey(r plan.Route) string {
	return fmt.Sprintf("route %v unreachable %v table %d", plan.FamilyOf(r.Dst.Addr()), r.Dst, r.Table)
}

func fwKey(fw plan.Firewall) string {
	fam := "ip"
	if fw.Family == plan.IPv6 {
		fam = "ip6"
	}
	return "nft table " + fam + " " + fw.Table
}
