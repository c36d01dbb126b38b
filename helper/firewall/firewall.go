// Package firewall installs wg-quick's nftables rules for a full tunnel:
// drop packets for the tunnel's addresses that arrive on another interface
// (an attacker on the LAN could otherwise reach them), and carry
// WireGuard's fwmark through conntrack so that replies to its UDP packets
// are routed like the packets themselves. One table per tunnel and family,
// added and deleted whole.
//
// The rules are built with github.com/google/nftables and leave the kernel
// in exactly the state nft(8) does for wg-quick's command text, byte for
// byte; the tests hold them to it.
package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Family is an nftables address family.
type Family int

// The families a tunnel uses.
const (
	IPv4 Family = iota // nft's "ip" family
	IPv6               // nft's "ip6" family
)

func (f Family) nft() nftables.TableFamily {
	if f == IPv6 {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

// String returns the family's name in nft's syntax.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "ip"
	case IPv6:
		return "ip6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// Spec describes one family's table.
type Spec struct {
	Family    Family
	Table     string       // nftables table name, e.g. "wgtray-wg0"
	Interface string       // the tunnel interface
	Addrs     []netip.Addr // the interface's addresses of this family, in order
	Mark      uint32       // the tunnel's fwmark, which is also its routing table
}

// Add creates the table with its three chains and rules in one netlink
// batch, so that it appears whole or not at all. An existing table of that
// name is an error (wrapping unix.EEXIST) and is left untouched: it is not
// ours to merge into, which `nft add table`, as wg-quick uses it, would do.
func Add(c *nftables.Conn, s Spec) error {
	// Validate before queueing anything: the connection would otherwise
	// send a half-queued batch with its next Flush, and a serialization
	// error would stick to it for good.
	if err := s.validate(); err != nil {
		return fmt.Errorf("add nftables table %s %q: %w", s.Family, s.Table, err)
	}
	queue(c, s)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add nftables table %s %q: %w", s.Family, s.Table, err)
	}
	return nil
}

// Delete removes the table with everything in it. A table that does not
// exist is not an error, so that teardown can be repeated.
func Delete(c *nftables.Conn, f Family, table string) error {
	if err := validTable(f, table); err != nil {
		return fmt.Errorf("delete nftables table %s %q: %w", f, table, err)
	}
	c.DelTable(&nftables.Table{Family: f.nft(), Name: table})
	// ENOENT rather than NFT_MSG_DESTROYTABLE, which would need Linux 6.3.
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s %q: %w", f, table, err)
	}
	return nil
}

// Exists reports whether the table exists.
func Exists(c *nftables.Conn, f Family, table string) (bool, error) {
	if err := validTable(f, table); err != nil {
		return false, fmt.Errorf("look up nftables table %s %q: %w", f, table, err)
	}
	_, err := c.ListTableOfFamily(table, f.nft())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("look up nftables table %s %q: %w", f, table, err)
}

func (s Spec) validate() error {
	if err := validTable(s.Family, s.Table); err != nil {
		return err
	}
	// The kernel compares iifname as IFNAMSIZ bytes; a longer name or an
	// embedded NUL could never name an interface.
	if s.Interface == "" || len(s.Interface) >= unix.IFNAMSIZ || strings.ContainsRune(s.Interface, 0) {
		return fmt.Errorf("invalid interface name %q", s.Interface)
	}
	for _, a := range s.Addrs {
		if (s.Family == IPv4 && !a.Is4()) || (s.Family == IPv6 && !a.Is6()) {
			return fmt.Errorf("address %v is not of family %s", a, s.Family)
		}
	}
	return nil
}

func validTable(f Family, table string) error {
	if f != IPv4 && f != IPv6 {
		return fmt.Errorf("unknown family %s", f)
	}
	// NFT_TABLE_MAXNAMELEN counts the terminating NUL.
	if table == "" || len(table) >= unix.NFT_TABLE_MAXNAMELEN || strings.ContainsRune(table, 0) {
		return fmt.Errorf("invalid table name %q", table)
	}
	return nil
}

// queue adds the messages for s to c's pending batch, in the order
// wg-quick's nft command text creates them.
func queue(c *nftables.Conn, s Spec) {
	// CreateTable sets NLM_F_EXCL, so an existing table fails the batch.
	t := c.CreateTable(&nftables.Table{Family: s.Family.nft(), Name: s.Table})
	// No policy, as nft sends none for wg-quick's chains: the kernel's
	// default for a base chain is accept.
	chain := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: prio})
	}
	preraw := chain("preraw", nftables.ChainHookPrerouting, nftables.ChainPriorityRaw)          // -300
	premangle := chain("premangle", nftables.ChainHookPrerouting, nftables.ChainPriorityMangle) // -150
	postmangle := chain("postmangle", nftables.ChainHookPostrouting, nftables.ChainPriorityMangle)

	for _, a := range s.Addrs {
		c.AddRule(&nftables.Rule{Table: t, Chain: preraw, Exprs: dropSpoofed(s.Interface, a)})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: postmangle, Exprs: saveMark(s.Mark)})
	c.AddRule(&nftables.Rule{Table: t, Chain: premangle, Exprs: restoreMark()})
}

// dropSpoofed is `iifname != IFACE PF daddr ADDR fib saddr type != local drop`.
func dropSpoofed(iface string, a netip.Addr) []expr.Any {
	// nft compares the whole IFNAMSIZ buffer, NUL-padded, so that "wg0"
	// does not also match "wg01".
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, iface)
	offset, length := uint32(16), uint32(4) // struct iphdr's daddr
	if a.Is6() {
		offset, length = 24, 16 // struct ipv6hdr's daddr
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: length},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		// The address type is a host-endian u32 in the register.
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// saveMark is `meta l4proto udp mark MARK ct mark set mark`.
func saveMark(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}}, // l4proto is one byte
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)}, // skb->mark, host-endian
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
