package diagnose

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/net/dns/dnsmessage"
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
	case len(rc.Servers) == 1 && rc.Servers[0] == netip.MustParseAddr("127.0.0.53"):
		// Whoever wrote it, it sends every query to resolved's stub.
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

// probeDNS looks a unique name up as the C library's resolver does:
// the servers of /etc/resolv.conf, read now, asked in turn until one
// answers (Go's own resolver would use a copy of the file up to 5 s
// old). It records each server asked and the source address the kernel
// chose for the query, which tells whether it left through the tunnel.
func probeDNS(ctx context.Context, servers []netip.Addr) DNSProbe {
	b := make([]byte, 6)
	rand.Read(b)
	pr := DNSProbe{Name: "wgtray-doctor-" + hex.EncodeToString(b) + ".example.com"}
	if len(servers) == 0 {
		pr.Err = "no DNS server is configured"
		return pr
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	for i, srv := range servers {
		// Each server gets its share of what is left, as libc's
		// timeout splits between its servers.
		share := time.Until(deadline) / time.Duration(len(servers)-i)
		send, answered, err := queryOnce(ctx, srv, pr.Name, share)
		if send.Server.IsValid() {
			pr.Sent = append(pr.Sent, send)
		}
		if answered {
			pr.Answered = true
			return pr
		}
		pr.Err = err.Error()
	}
	return pr
}

// queryOnce sends one A query for name to srv:53 over UDP and waits up
// to wait for the answer with its ID.
func queryOnce(ctx context.Context, srv netip.Addr, name string, wait time.Duration) (DNSSend, bool, error) {
	send := DNSSend{}
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(srv, 53).String())
	if err != nil {
		return send, false, err
	}
	defer c.Close()
	send.Server = netip.AddrPortFrom(srv, 53)
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok {
		send.From = la.AddrPort().Addr().Unmap()
	}
	id := binary.BigEndian.Uint16(func() []byte { b := make([]byte, 2); rand.Read(b); return b }())
	q := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	q.StartQuestions()
	q.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, err := q.Finish()
	if err != nil {
		return send, false, err
	}
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write(msg); err != nil {
		return send, false, err
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return send, false, fmt.Errorf("no answer from %s: %w", srv, err)
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err == nil && h.ID == id && h.Response {
			return send, true, nil
		}
	}
}

// getProp reads a property within ctx: godbus's GetProperty has no
// deadline.
func getProp(ctx context.Context, obj dbus.BusObject, iface, name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, iface, name).Store(&v)
	return v, err
}
