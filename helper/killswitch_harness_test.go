package main

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"

	"github.com/wgtray/wgtray/internal/testenv/netns"
	"github.com/wgtray/wgtray/ipc"
)

// What the kill switch's tests (killswitch_test.go) use: traffic of every
// kind, DHCP and NDP packets made by hand, and the helper's signals.

// leakFilter matches, on the peer's side of the client's LAN link, what
// the client sends beyond its LAN: not to 192.0.2.0/24 or 2001:db8:1::/64,
// not broadcast or multicast. The tunnel's own UDP goes to the peer at
// 192.0.2.1, inside the LAN, so it is not counted.
const leakFilter = "(src host 192.0.2.2 and not dst net 192.0.2.0/24 and not dst host 255.255.255.255 and not dst net 224.0.0.0/4)" +
	" or (src host 2001:db8:1::2 and not dst net 2001:db8:1::/64 and not dst net ff00::/8)"

// publicLooking is a documentation address that no host has: where an
// application with a hard-coded server would send.
const publicLooking = "203.0.113.77"

// attempts tries every kind of traffic beyond the LAN from ns: TCP, UDP,
// ICMP and DNS, to the internet host and to a public-looking address, over
// IPv4 and IPv6. It returns how many got an answer.
func attempts(t *testing.T, ns string, inet4, inet6 string) int {
	t.Helper()
	answered := 0
	for _, host := range []string{inet4, "[" + inet6 + "]", publicLooking} {
		for _, port := range []string{"7002", "53", "443"} {
			if c, err := netns.DialTCP(ns, host+":"+port, 2*time.Second); err == nil {
				c.Close()
				answered++
			}
			if c, err := netns.DialUDP(ns, host+":"+port); err == nil {
				c.Write([]byte("leak?"))
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if _, err := c.Read(make([]byte, 16)); err == nil {
					answered++
				}
				c.Close()
			}
		}
	}
	for _, host := range []string{inet4, inet6, publicLooking} {
		if _, err := netns.Run(ns, "ping", "-c", "1", "-W", "1", host); err == nil {
			answered++
		}
	}
	return answered
}

// pings reports whether one ping from ns to host is answered.
func pings(ns, host string) bool {
	_, err := netns.Run(ns, "ping", "-c", "1", "-W", "2", host)
	return err == nil
}

// dhcpDiscover sends a DHCPv4 discover-shaped datagram from port 68 to
// the broadcast address, as a DHCP client does.
func dhcpDiscover(t *testing.T, ns string) {
	t.Helper()
	err := netns.Do(ns, func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 68})
		if err != nil {
			return err
		}
		defer c.Close()
		msg := make([]byte, 240)
		msg[0], msg[1], msg[2] = 1, 1, 6 // BOOTREQUEST, Ethernet
		copy(msg[236:], []byte{99, 130, 83, 99})
		_, err = c.WriteToUDP(msg, &net.UDPAddr{IP: net.IPv4bcast, Port: 67})
		return err
	})
	if err != nil {
		t.Fatalf("DHCP discover: %v", err)
	}
}

func (s *service) killAndCleanup(t *testing.T) {
	t.Helper()
	s.proc.Signal(syscall.SIGKILL)
	s.proc.Wait(t, 20*time.Second)
	if _, stderr, code := runHelper(t, s.tp.Client, append(append([]string{}, s.args...), "--cleanup")...); code != 0 {
		t.Fatalf("--cleanup: exit %d: %s", code, stderr)
	}
}

// watchRepairs sends every BlockRepaired message to ch.
func (s *service) watchRepairs(t *testing.T, ch chan<- string) {
	t.Helper()
	conn := s.bus.Conn(t)
	rule := fmt.Sprintf("type='signal',interface='%s',member='%s'", ipc.Interface, ipc.SignalBlockRepaired)
	if err := conn.BusObject().Call("org.freedesktop.DBus.AddMatch", 0, rule).Err; err != nil {
		t.Fatal(err)
	}
	sigs := make(chan *dbus.Signal, 10)
	conn.Signal(sigs)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sg := <-sigs:
				if sg.Name == ipc.Interface+"."+ipc.SignalBlockRepaired && len(sg.Body) == 1 {
					if m, ok := sg.Body[0].(string); ok {
						select {
						case ch <- m:
						default:
						}
					}
				}
			}
		}
	}()
	t.Cleanup(func() { conn.RemoveSignal(sigs); close(done) })
}

// routerSolicit sends an ICMPv6 router solicitation to ff02::2 from ns's
// eth0, with hop limit 255 as NDP requires.
func routerSolicit(t *testing.T, ns string) {
	t.Helper()
	err := netns.Do(ns, func() error {
		c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		defer c.Close()
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		p := c.IPv6PacketConn()
		if err := p.SetMulticastHopLimit(255); err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		msg := icmp.Message{Type: ipv6.ICMPTypeRouterSolicitation, Body: &icmp.RawBody{Data: make([]byte, 4)}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		_, err = c.WriteTo(b, &net.IPAddr{IP: net.ParseIP("ff02::2"), Zone: "eth0"})
		return err
	})
	if err != nil {
		t.Fatalf("router solicitation: %v", err)
	}
}

// dhcp6Solicit sends a DHCPv6 solicit-shaped datagram from eth0's
// link-local address, port 546, to ff02::1:2 port 547.
func dhcp6Solicit(t *testing.T, ns string) {
	t.Helper()
	err := netns.Do(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		var ll net.IP
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsLinkLocalUnicast() {
				ll = n.IP
			}
		}
		if ll == nil {
			return fmt.Errorf("eth0 has no link-local address")
		}
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: ll, Port: 546, Zone: "eth0"})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteToUDP([]byte{1, 0xab, 0xcd, 0xef}, &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: "eth0"})
		return err
	})
	if err != nil {
		t.Fatalf("DHCPv6 solicit: %v", err)
	}
}
