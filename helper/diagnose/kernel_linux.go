package diagnose

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// routeGet asks the kernel, with RTM_GETROUTE, which route it gives p:
// the same lookup as `ip route get DST mark M ipproto P dport N uid U`,
// with RTM_F_FIB_MATCH for the table's entry (`ip route get fibmatch`).
// vishvananda/netlink's RouteGetWithOptions has no ipproto or ports, so
// the request is built here.
func routeGet(p Packet, fibMatch bool, linkName func(int) string) (Lookup, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETROUTE, unix.NLM_F_REQUEST)
	msg := &nl.RtMsg{}
	dst := p.Dst.AsSlice()
	if p.Dst.Is4() {
		msg.Family, msg.Dst_len = unix.AF_INET, 32
	} else {
		msg.Family, msg.Dst_len = unix.AF_INET6, 128
	}
	msg.Flags = unix.RTM_F_LOOKUP_TABLE
	if fibMatch {
		msg.Flags |= unix.RTM_F_FIB_MATCH
	}
	if p.Src.IsValid() {
		msg.Src_len = msg.Dst_len
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.RTA_DST, dst))
	if p.Src.IsValid() {
		req.AddData(nl.NewRtAttr(unix.RTA_SRC, p.Src.AsSlice()))
	}
	u32 := func(v uint32) []byte {
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, v)
		return b
	}
	req.AddData(nl.NewRtAttr(unix.RTA_UID, u32(p.UID)))
	if p.Mark != 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_MARK, u32(p.Mark)))
	}
	if p.Proto != 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_IP_PROTO, []byte{byte(p.Proto)}))
		if p.Port != 0 {
			b := make([]byte, 2)
			binary.BigEndian.PutUint16(b, p.Port)
			req.AddData(nl.NewRtAttr(unix.RTA_DPORT, b))
		}
	}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWROUTE)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			switch errno {
			case unix.ENETUNREACH, unix.EHOSTUNREACH, unix.EACCES, unix.EINVAL, unix.EPERM:
				return Lookup{Err: errno.Error()}, nil
			}
		}
		return Lookup{}, fmt.Errorf("RTM_GETROUTE %s: %w", p.Dst, err)
	}
	if len(msgs) == 0 {
		return Lookup{}, fmt.Errorf("RTM_GETROUTE %s: no answer", p.Dst)
	}
	m := nl.DeserializeRtMsg(msgs[0])
	attrs, err := nl.ParseRouteAttr(msgs[0][m.Len():])
	if err != nil {
		return Lookup{}, fmt.Errorf("RTM_GETROUTE %s: %w", p.Dst, err)
	}
	lk := Lookup{Type: routeType(m.Type), Table: uint32(m.Table), Proto: netlink.RouteProtocol(m.Protocol).String()}
	var dstAddr netip.Addr
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_TABLE:
			lk.Table = binary.NativeEndian.Uint32(a.Value)
		case unix.RTA_OIF:
			lk.Dev = linkName(int(binary.NativeEndian.Uint32(a.Value)))
		case unix.RTA_GATEWAY:
			lk.Via, _ = netip.AddrFromSlice(a.Value)
		case unix.RTA_PREFSRC:
			lk.Src, _ = netip.AddrFromSlice(a.Value)
		case unix.RTA_DST:
			dstAddr, _ = netip.AddrFromSlice(a.Value)
		}
	}
	if fibMatch {
		if !dstAddr.IsValid() {
			dstAddr = netip.IPv4Unspecified()
			if p.Dst.Is6() {
				dstAddr = netip.IPv6Unspecified()
			}
		}
		lk.Prefix = netip.PrefixFrom(dstAddr, int(m.Dst_len))
	}
	return lk, nil
}

func routeType(t uint8) string {
	switch t {
	case unix.RTN_UNICAST:
		return "unicast"
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_ANYCAST:
		return "anycast"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_THROW:
		return "throw"
	}
	return fmt.Sprintf("type %d", t)
}

// lookupBoth is the kernel's full answer for p: the route, then the
// table's entry that matched.
func lookupBoth(p Packet, linkName func(int) string) (Lookup, error) {
	lk, err := routeGet(p, false, linkName)
	if err != nil || lk.Err != "" {
		return lk, err
	}
	fm, err := routeGet(p, true, linkName)
	if err != nil {
		return lk, err
	}
	if fm.Err == "" {
		lk.Prefix, lk.Proto, lk.Type = fm.Prefix, fm.Proto, fm.Type
		if lk.Table == 0 {
			lk.Table = fm.Table
		}
	}
	return lk, nil
}

func toPrefix(n *net.IPNet, fam int) netip.Prefix {
	if n == nil {
		if fam == 6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	if fam == 4 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, ones)
}

// readRules lists the policy rules of both families.
func readRules(h *netlink.Handle) ([]Rule, error) {
	var out []Rule
	for _, fam := range []int{4, 6} {
		nlfam := netlink.FAMILY_V4
		if fam == 6 {
			nlfam = netlink.FAMILY_V6
		}
		rules, err := h.RuleList(nlfam)
		if err != nil {
			if fam == 6 && errors.Is(err, unix.EAFNOSUPPORT) {
				continue
			}
			return nil, fmt.Errorf("list rules: %w", err)
		}
		actions, err := ruleActions(nlfam)
		if err != nil {
			return nil, err
		}
		for i, r := range rules {
			rule := Rule{Family: fam, Priority: uint32(max(r.Priority, 0)), Action: int(r.Type), Table: uint32(r.Table),
				Mark: r.Mark, Invert: r.Invert, Iif: r.IifName, Oif: r.OifName, IPProto: r.IPProto,
				SuppressPrefixlen: r.SuppressPrefixlen}
			// RuleList (v1.3.1) drops the action: the raw dump has it, in
			// the same order unless a rule changed in between.
			if len(actions) == len(rules) && actions[i].prio == rule.Priority {
				rule.Action = actions[i].action
			}
			if rule.Action == 0 {
				rule.Action = actToTable
			}
			if r.Mask != nil {
				rule.Mask = *r.Mask
			} else if r.Mark != 0 {
				rule.Mask = 0xffffffff
			}
			if r.Src != nil {
				rule.Src = toPrefix(r.Src, fam)
			}
			if r.Dst != nil {
				rule.Dst = toPrefix(r.Dst, fam)
			}
			if r.Dport != nil {
				rule.Dport = [2]uint16{r.Dport.Start, r.Dport.End}
			}
			if r.Sport != nil {
				rule.Sport = [2]uint16{r.Sport.Start, r.Sport.End}
			}
			if r.UIDRange != nil {
				rule.UID = &[2]uint32{r.UIDRange.Start, r.UIDRange.End}
			}
			rule.Other = r.Tos != 0 || r.TunID != 0 || r.SuppressIfgroup > 0 || r.Goto > 0
			out = append(out, rule)
		}
	}
	return out, nil
}

// readRoutes dumps every table of both families.
func readRoutes(h *netlink.Handle, linkName func(int) string) ([]RouteEntry, error) {
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []RouteEntry
	for _, r := range routes {
		fam := 4
		if r.Family == netlink.FAMILY_V6 {
			fam = 6
		}
		e := RouteEntry{Family: fam, Table: uint32(r.Table), Dst: toPrefix(r.Dst, fam), Type: routeType(uint8(r.Type)),
			Proto: r.Protocol.String(), Scope: r.Scope.String(), Metric: uint32(r.Priority)}
		if r.LinkIndex > 0 {
			e.Dev = linkName(r.LinkIndex)
		}
		if r.Gw != nil {
			e.Via, _ = netip.AddrFromSlice(r.Gw)
			e.Via = e.Via.Unmap()
			e.Gateway = true
		}
		if len(r.MultiPath) > 0 {
			e.Gateway = true
			if e.Dev == "" {
				e.Dev = linkName(r.MultiPath[0].LinkIndex)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// readLinks lists the interfaces, with each WireGuard device's fwmark.
func readLinks(h *netlink.Handle) ([]Link, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	wg, wgErr := wgctrl.New()
	if wgErr == nil {
		defer wg.Close()
	}
	var out []Link
	for _, l := range links {
		a := l.Attrs()
		link := Link{Index: a.Index, Name: a.Name, Kind: l.Type(), MTU: a.MTU}
		isWG := link.Kind == "wireguard"
		if !isWG && link.Kind == "tuntap" {
			// wireguard-go: a TUN device with a UAPI socket of its name.
			if _, err := os.Stat(uapisock.Path(a.Name)); err == nil {
				isWG = true
			}
		}
		if isWG && wgErr == nil {
			if d, err := wg.Device(a.Name); err == nil {
				link.WireGuard, link.FwMark = true, uint32(d.FirewallMark)
			}
		}
		out = append(out, link)
	}
	return out, nil
}

// readNFTables lists the nftables tables.
func readNFTables() ([]NFTable, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []NFTable
	for _, t := range tables {
		nt := NFTable{Family: nftFamily(t.Family), Name: t.Name}
		for _, ch := range chains {
			if ch.Table == nil || ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			if ch.Hooknum != nil && ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
				nt.DropHooks = append(nt.DropHooks, hookName(*ch.Hooknum))
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				continue
			}
			for _, r := range rules {
				nt.SetsMarks = append(nt.SetsMarks, marksSet(r.Exprs)...)
			}
		}
		out = append(out, nt)
	}
	return out, nil
}

// marksSet finds "meta mark set N": a constant loaded into a register
// that a meta expression then writes to the packet's mark.
func marksSet(exprs []expr.Any) []uint32 {
	var out []uint32
	consts := map[uint32]uint32{}
	for _, e := range exprs {
		switch x := e.(type) {
		case *expr.Immediate:
			if len(x.Data) == 4 {
				consts[x.Register] = binary.NativeEndian.Uint32(x.Data)
			}
		case *expr.Meta:
			if x.Key == expr.MetaKeyMARK && x.SourceRegister {
				if v, ok := consts[x.Register]; ok {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return fmt.Sprint(h)
}

func nftFamily(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprint(f)
}

type ruleAction struct {
	prio   uint32
	action int
}

// ruleActions dumps the rules of family again for what RuleList leaves
// out: each rule's action (fib_rule_hdr's, where RtMsg has its Type).
func ruleActions(family int) ([]ruleAction, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETRULE, unix.NLM_F_DUMP|unix.NLM_F_REQUEST)
	req.AddData(nl.NewIfInfomsg(family))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWRULE)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	var out []ruleAction
	for _, m := range msgs {
		hdr := nl.DeserializeRtMsg(m)
		attrs, err := nl.ParseRouteAttr(m[hdr.Len():])
		if err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		ra := ruleAction{action: int(hdr.Type)}
		for _, a := range attrs {
			if a.Attr.Type == nl.FRA_PRIORITY {
				ra.prio = binary.NativeEndian.Uint32(a.Value)
			}
		}
		out = append(out, ra)
	}
	return out, nil
}
