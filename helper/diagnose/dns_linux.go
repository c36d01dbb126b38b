package diagnose

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// readResolvConf reads path and names the program that wrote it, from
// its link target or its header.
func readResolvConf(path string) ResolvConf {
	rc := ResolvConf{Path: path}
	if target, err := os.Readlink(path); err == nil {
		rc.Symlink = target
	}
	data, err := os.ReadFile(path)
	if err != nil {
		rc.Missing = errors.Is(err, os.ErrNotExist)
		return rc
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var header []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			header = append(header, strings.ToLower(line))
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(strings.SplitN(f[1], "%", 2)[0]); err == nil {
				rc.Servers = append(rc.Servers, a.Unmap())
			}
		}
	}
	head := strings.Join(header, "\n")
	switch {
	case strings.Contains(head, "written by wgtray"):
		rc.WrittenByUs = true
	case strings.Contains(rc.Symlink, "systemd/resolve") || strings.Contains(head, "systemd-resolved"):
		rc.Writer = "systemd-resolved"
	case strings.Contains(head, "networkmanager"):
		rc.Writer = "NetworkManager"
	case strings.Contains(rc.Symlink, "resolvconf") || strings.Contains(head, "resolvconf"):
		rc.Writer = "resolvconf"
	case strings.Contains(head, "connman"):
		rc.Writer = "ConnMan"
	case strings.Contains(head, "netconfig"):
		rc.Writer = "netconfig"
	case strings.Contains(head, "dhclient") || strings.Contains(head, "dhcpcd"):
		rc.Writer = "the DHCP client"
	}
	return rc
}

type resolvedAddr struct {
	Index   int32
	Family  int32
	Address []byte
}

// readResolved reads systemd-resolved's servers and each link's default
// route and routing domains over D-Bus.
func readResolved(ctx context.Context, bus *dbus.Conn, linkName func(int) string) (*ResolvedState, error) {
	obj := bus.Object(busResolved, "/org/freedesktop/resolve1")
	var addrs []resolvedAddr
	v, err := getProp(ctx, obj, "org.freedesktop.resolve1.Manager", "DNS")
	if err != nil {
		return nil, fmt.Errorf("systemd-resolved DNS: %w", err)
	}
	if err := dbus.Store([]any{v.Value()}, &addrs); err != nil {
		return nil, fmt.Errorf("systemd-resolved DNS: %w", err)
	}
	var doms []struct {
		Index     int32
		Name      string
		RouteOnly bool
	}
	if v, err := getProp(ctx, obj, "org.freedesktop.resolve1.Manager", "Domains"); err == nil {
		_ = dbus.Store([]any{v.Value()}, &doms)
	}
	st := &ResolvedState{}
	links := map[int32]*ResolvedLink{}
	link := func(i int32) *ResolvedLink {
		if l := links[i]; l != nil {
			return l
		}
		l := &ResolvedLink{Index: int(i), Name: linkName(int(i))}
		var path dbus.ObjectPath
		if err := obj.CallWithContext(ctx, "org.freedesktop.resolve1.Manager.GetLink", 0, i).Store(&path); err == nil {
			if v, err := getProp(ctx, bus.Object(busResolved, path), "org.freedesktop.resolve1.Link", "DefaultRoute"); err == nil {
				l.DefaultRoute, _ = v.Value().(bool)
			}
		}
		links[i] = l
		return l
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.Address)
		if !ok {
			continue
		}
		if a.Index == 0 {
			st.Global = append(st.Global, ip.Unmap())
			continue
		}
		l := link(a.Index)
		l.Servers = append(l.Servers, ip.Unmap())
	}
	for _, d := range doms {
		if d.Index != 0 && d.RouteOnly && (d.Name == "." || d.Name == "") {
			link(d.Index).RoutesAll = true
		}
	}
	for _, l := range links {
		st.Links = append(st.Links, *l)
	}
	return st, nil
}

// DNSProbe is what the active DNS test saw: the servers the system
// resolver sent a query for a unique name to, the local address each
// query left from, and whether an answer came.
type DNSProbe struct {
	Name     string
	Sent     []DNSSend
	Answered bool
	Err      string
}

// DNSSend is one server the query went to.
type DNSSend struct {
	Server netip.AddrPort
	From   netip.Addr
}

// probeDNS looks a unique name up through the resolver that programs
// use (Go's, reading /etc/resolv.conf as the C library does), recording
// every server it dials and the source address the kernel chose.
func probeDNS(ctx context.Context) DNSProbe {
	b := make([]byte, 6)
	rand.Read(b)
	pr := DNSProbe{Name: "wgtray-doctor-" + hex.EncodeToString(b) + ".example.com"}
	var mu sync.Mutex
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		if err == nil {
			s := DNSSend{}
			if ap, perr := netip.ParseAddrPort(address); perr == nil {
				s.Server = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			}
			if la, ok := c.LocalAddr().(interface{ AddrPort() netip.AddrPort }); ok {
				s.From = la.AddrPort().Addr().Unmap()
			}
			mu.Lock()
			if !containsSend(pr.Sent, s) {
				pr.Sent = append(pr.Sent, s)
			}
			mu.Unlock()
		}
		return c, err
	}}
	_, err := r.LookupNetIP(ctx, "ip4", pr.Name)
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		pr.Answered = true
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		// NXDOMAIN, or a server that refused: either way, one answered.
		pr.Answered = true
		pr.Err = dnsErr.Err
	default:
		pr.Err = err.Error()
	}
	return pr
}

func containsSend(l []DNSSend, s DNSSend) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// getProp reads a property within ctx: godbus's GetProperty has no
// deadline.
func getProp(ctx context.Context, obj dbus.BusObject, iface, name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, iface, name).Store(&v)
	return v, err
}
