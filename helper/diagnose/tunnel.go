package diagnose

import (
	"net/netip"
	"slices"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/plan"
)

// Tunnel is what the helper knows of one connected tunnel: what its
// plan added and what its device says. It holds no key.
type Tunnel struct {
	Name string
	// FullTunnel is set for a tunnel of wg-quick's policy routing, whose
	// table and fwmark is Table.
	FullTunnel bool
	Table      uint32
	// Full are the families whose /0 the tunnel carries, Blocked those
	// the leak guard makes unreachable; LeakGuardOff says the helper was
	// started with --leak-guard=false, Unguarded why the guard could not
	// apply.
	Full, Blocked []int
	LeakGuardOff  bool
	Unguarded     string
	// Rules are the policy rules the tunnel added.
	Rules      []Rule
	Addresses  []netip.Prefix
	AllowedIPs []netip.Prefix
	DNS        []netip.Addr
	DNSManager string
	// Firewall are the nftables tables the tunnel added.
	Firewall []NFTable
	// MTU is the config's MTU line, 0 when it has none.
	MTU   int
	Peers []Peer
	// Status is the tunnel's Status as the helper answers it, for the
	// keys other parts add (Health, KillSwitch, AllowLAN, Blocking).
	Status map[string]dbus.Variant
	// BlockKnown says the helper puts a kill switch's block in the
	// kernel and reports it as Status key Blocking; without it KillSwitch
	// is only the option.
	BlockKnown bool
}

// Peer is one peer of a tunnel.
type Peer struct {
	// Host and Port are the config's Endpoint; Host may be a name.
	Host string
	Port uint16
	// Current is the endpoint the device uses now, zero when none.
	Current       netip.AddrPort
	LastHandshake time.Time
	Rx, Tx        int64
}

func famOf(f plan.Family) int {
	if f == plan.IPv6 {
		return 6
	}
	return 4
}

// FromPlan describes tunnel name from its config, the plan that brought
// it up and its device (nil when it could not be read).
func FromPlan(name string, cfg *config.Config, p *plan.Plan, dev *wgtypes.Device, leakGuardOff bool) Tunnel {
	t := Tunnel{Name: name, LeakGuardOff: leakGuardOff}
	if cfg != nil {
		in := cfg.Interface
		t.Addresses = slices.Clone(in.Addresses)
		t.DNS = slices.Clone(in.DNS)
		t.MTU = in.MTU
		for _, peer := range cfg.Peers {
			pp := Peer{}
			if peer.Endpoint != nil {
				pp.Host, pp.Port = peer.Endpoint.Host, peer.Endpoint.Port
			}
			t.Peers = append(t.Peers, pp)
			for _, a := range peer.AllowedIPs {
				t.AllowedIPs = append(t.AllowedIPs, a.Masked())
				if a.Bits() == 0 && !slices.Contains(t.Full, famOf(plan.FamilyOf(a.Addr()))) {
					t.Full = append(t.Full, famOf(plan.FamilyOf(a.Addr())))
				}
			}
		}
	}
	if p != nil {
		t.FullTunnel, t.Table, t.Unguarded = p.FullTunnel, p.Table, p.Unguarded
		if !p.FullTunnel {
			t.Full = nil
		}
		for _, f := range p.Blocked {
			t.Blocked = append(t.Blocked, famOf(f))
		}
		if p.DNS != nil {
			t.DNSManager = p.DNS.Manager
		}
		for _, op := range p.Ops {
			switch {
			case op.Kind == plan.RuleAdd && op.Rule != nil:
				r := op.Rule
				rule := Rule{Family: famOf(r.Family), Priority: r.Priority, Action: actToTable, Table: r.Table, Invert: r.Invert, SuppressPrefixlen: r.SuppressPrefixlen}
				if r.Mark != 0 {
					rule.Mark, rule.Mask = r.Mark, 0xffffffff
				}
				t.Rules = append(t.Rules, rule)
			case op.Kind == plan.FWAdd && op.Firewall != nil:
				fam := "ip"
				if op.Firewall.Family == plan.IPv6 {
					fam = "ip6"
				}
				t.Firewall = append(t.Firewall, NFTable{Family: fam, Name: op.Firewall.Table})
			}
		}
	} else {
		t.Full = nil
	}
	if dev != nil {
		for i, dp := range dev.Peers {
			if i >= len(t.Peers) {
				t.Peers = append(t.Peers, Peer{})
			}
			pp := &t.Peers[i]
			if dp.Endpoint != nil {
				if ap, ok := netip.AddrFromSlice(dp.Endpoint.IP); ok {
					pp.Current = netip.AddrPortFrom(ap.Unmap(), uint16(dp.Endpoint.Port))
				}
			}
			pp.LastHandshake, pp.Rx, pp.Tx = dp.LastHandshakeTime, dp.ReceiveBytes, dp.TransmitBytes
		}
	}
	return t
}

// ownsRule reports whether r is one of the tunnel's rules.
func (t *Tunnel) ownsRule(r Rule) bool {
	for _, o := range t.Rules {
		if o.Family == r.Family && o.Priority == r.Priority && o.Table == r.Table && o.Invert == r.Invert &&
			o.Mark == r.Mark && o.SuppressPrefixlen == r.SuppressPrefixlen {
			return true
		}
	}
	return false
}

// firstPref is the lowest priority of the tunnel's rules of family fam,
// 0 when it has none.
func (t *Tunnel) firstPref(fam int) uint32 {
	var p uint32
	for _, r := range t.Rules {
		if r.Family == fam && (p == 0 || r.Priority < p) {
			p = r.Priority
		}
	}
	return p
}

func (t *Tunnel) carries(fam int) bool { return slices.Contains(t.Full, fam) }
func (t *Tunnel) blocks(fam int) bool  { return slices.Contains(t.Blocked, fam) }

// inTunnel reports whether a is inside the tunnel's AllowedIPs.
func (t *Tunnel) inTunnel(a netip.Addr) bool {
	for _, p := range t.AllowedIPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func familyName(f int) string {
	if f == 6 {
		return "IPv6"
	}
	return "IPv4"
}
