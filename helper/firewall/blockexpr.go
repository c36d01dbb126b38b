package firewall

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/plan"
)

// blockExprs turns one rule of the block into nftables expressions, in
// the order nft(8) would emit them for the rule's String.
func blockExprs(r plan.BlockRule) ([]expr.Any, error) {
	var e []expr.Any
	cmp := func(data []byte) { e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data}) }
	ifname := func(key expr.MetaKey, name string) error {
		if name == "" || len(name) >= unix.IFNAMSIZ {
			return fmt.Errorf("invalid interface name %q", name)
		}
		b := make([]byte, unix.IFNAMSIZ)
		copy(b, name)
		e = append(e, &expr.Meta{Key: key, Register: 1})
		cmp(b)
		return nil
	}
	if r.IIF != "" {
		if err := ifname(expr.MetaKeyIIFNAME, r.IIF); err != nil {
			return nil, err
		}
	}
	if r.OIF != "" {
		if err := ifname(expr.MetaKeyOIFNAME, r.OIF); err != nil {
			return nil, err
		}
	}
	fam := r.Family
	for _, p := range []netip.Prefix{r.SAddr, r.DAddr} {
		if p.IsValid() {
			fam = plan.FamilyOf(p.Addr())
		}
	}
	if r.Proto == "icmpv6" {
		fam = plan.IPv6
	}
	if fam != 0 {
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1})
		if fam == plan.IPv6 {
			cmp([]byte{unix.NFPROTO_IPV6})
		} else {
			cmp([]byte{unix.NFPROTO_IPV4})
		}
	}
	if r.Established {
		e = append(e,
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
				Xor:  binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
	}
	if r.Mark != 0 {
		e = append(e, &expr.Meta{Key: expr.MetaKeyMARK, Register: 1})
		cmp(binaryutil.NativeEndian.PutUint32(r.Mark))
	}
	addr := func(p netip.Prefix, src bool) {
		off, n := uint32(16), uint32(4) // struct iphdr: saddr at 12, daddr at 16
		if src {
			off = 12
		}
		if p.Addr().Is6() {
			off, n = 24, 16 // struct ipv6hdr: saddr at 8, daddr at 24
			if src {
				off = 8
			}
		}
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
		if p.Bits() < p.Addr().BitLen() {
			mask := net.CIDRMask(p.Bits(), p.Addr().BitLen())
			e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
		}
		cmp(p.Masked().Addr().AsSlice())
	}
	if r.SAddr.IsValid() {
		addr(r.SAddr, true)
	}
	if r.DAddr.IsValid() {
		addr(r.DAddr, false)
	}
	switch r.Proto {
	case "":
	case "udp", "tcp", "icmpv6":
		proto := map[string]byte{"udp": unix.IPPROTO_UDP, "tcp": unix.IPPROTO_TCP, "icmpv6": unix.IPPROTO_ICMPV6}[r.Proto]
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1})
		cmp([]byte{proto})
	default:
		return nil, fmt.Errorf("unknown protocol %q", r.Proto)
	}
	if r.Proto == "icmpv6" {
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1})
		cmp([]byte{r.ICMPv6Type})
	}
	port := func(p uint16, off uint32) {
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2})
		cmp(binaryutil.BigEndian.PutUint16(p))
	}
	if r.SPort != 0 {
		port(r.SPort, 0)
	}
	if r.DPort != 0 {
		port(r.DPort, 2)
	}
	switch r.Verdict {
	case "accept":
		e = append(e, &expr.Verdict{Kind: expr.VerdictAccept})
	case "drop":
		e = append(e, &expr.Verdict{Kind: expr.VerdictDrop})
	case "reject":
		e = append(e, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
	case "reset":
		if r.Proto != "tcp" {
			return nil, fmt.Errorf("a TCP reset for protocol %q", r.Proto)
		}
		e = append(e, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	default:
		return nil, fmt.Errorf("unknown verdict %q", r.Verdict)
	}
	return e, nil
}
