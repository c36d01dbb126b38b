// Package firewall installs wg-quick's nftables rules for a full tunnel:
// drop packets for the tunnel's addresses that arrive on another interface
// (an attacker on the LAN could otherwise reach them), and carry
// WireGuard's fwmark through conntrack so that replies to its UDP packets
// are routed like the packets themselves. One table per tunnel and family,
// added and deleted whole.
package firewall

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Family is an nftables address family.
type Family int

// The families a tunnel uses.
const (
	IPv4 Family = iota
	IPv6
)

func (f Family) nft() nftables.TableFamily {
	if f == IPv6 {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

func (f Family) String() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

// Spec describes one family's table.
type Spec struct {
	Family    Family
	Table     string       // e.g. "wgtray-wg0"
	Interface string       // the tunnel interface
	Addrs     []netip.Addr // the interface's addresses of this family
	Mark      uint32       // the tunnel's fwmark
}

// Add creates the table with its chains and rules in one netlink batch, so
// that it appears whole or not at all. An existing table of that name is
// an error: it is not ours to merge into.
func Add(c *nftables.Conn, s Spec) error {
	if len(s.Interface) == 0 || len(s.Interface) >= unix.IFNAMSIZ {
		return fmt.Errorf("add nftables table %s %q: bad interface name", s.Family, s.Table)
	}
	// Validate before queueing anything: queued messages would otherwise
	// go out with the connection's next Flush.
	for _, a := range s.Addrs {
		if (s.Family == IPv4) != a.Is4() {
			return fmt.Errorf("add nftables table %s %q: address %v of the wrong family", s.Family, s.Table, a)
		}
	}
	t := c.CreateTable(&nftables.Table{Family: s.Family.nft(), Name: s.Table})
	accept := nftables.ChainPolicyAccept
	chain := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: prio, Policy: &accept})
	}
	preraw := chain("preraw", nftables.ChainHookPrerouting, nftables.ChainPriorityRaw)
	premangle := chain("premangle", nftables.ChainHookPrerouting, nftables.ChainPriorityMangle)
	postmangle := chain("postmangle", nftables.ChainHookPostrouting, nftables.ChainPriorityMangle)

	for _, a := range s.Addrs {
		c.AddRule(&nftables.Rule{Table: t, Chain: preraw, Exprs: dropSpoofed(s.Interface, a)})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: postmangle, Exprs: saveMark(s.Mark)})
	c.AddRule(&nftables.Rule{Table: t, Chain: premangle, Exprs: restoreMark()})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add nftables table %s %q: %w", s.Family, s.Table, err)
	}
	return nil
}

// Delete removes the table. A table that does not exist is not an error,
// so that teardown can be repeated.
func Delete(c *nftables.Conn, f Family, table string) error {
	c.DelTable(&nftables.Table{Family: f.nft(), Name: table})
	err := c.Flush()
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("delete nftables table %s %q: %w", f, table, err)
}

// Exists reports whether the table exists.
func Exists(c *nftables.Conn, f Family, table string) (bool, error) {
	_, err := c.ListTableOfFamily(table, f.nft())
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return false, fmt.Errorf("look up nftables table %s %q: %w", f, table, err)
}

// dropSpoofed is `iifname != IFACE ip daddr ADDR fib saddr type != local drop`.
func dropSpoofed(iface string, a netip.Addr) []expr.Any {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, iface)
	offset, length := uint32(16), uint32(4) // IPv4 destination
	if a.Is6() {
		offset, length = 24, 16
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: length},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// saveMark is `meta l4proto udp mark MARK ct mark set mark`.
func saveMark(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true},
	}
}

// restoreMark is `meta l4proto udp meta mark set ct mark`.
func restoreMark() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1, SourceRegister: true},
	}
}
