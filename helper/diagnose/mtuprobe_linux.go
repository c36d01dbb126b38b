package diagnose

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// pinger sends ICMP echo requests with the Don't Fragment bit and waits
// for the replies. It uses an ICMP datagram socket where
// net.ipv4.ping_group_range lets it (systemd's default allows every
// group), else a raw socket (root with CAP_NET_RAW).
type pinger struct {
	fd  int
	raw bool
	v6  bool
	id  uint16
	seq uint16
}

func newPinger(dst netip.Addr) (*pinger, error) {
	p := &pinger{v6: dst.Is6(), id: uint16(time.Now().UnixNano())}
	fam, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if p.v6 {
		fam, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		var rerr error
		fd, rerr = unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if rerr != nil {
			return nil, fmt.Errorf("no ICMP socket: datagram: %v; raw: %v", err, rerr)
		}
		p.raw = true
	}
	p.fd = fd
	// PROBE sets DF and ignores the kernel's cached path MTU, so that
	// every size is really sent; RECVERR queues the ICMP errors that
	// come back, "fragmentation needed" among them.
	if p.v6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		}
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
		}
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		}
	}
	if err == nil {
		var sa unix.Sockaddr
		if p.v6 {
			sa = &unix.SockaddrInet6{Addr: dst.As16()}
		} else {
			sa = &unix.SockaddrInet4{Addr: dst.As4()}
		}
		err = unix.Connect(fd, sa)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ICMP socket: %w", err)
	}
	return p, nil
}

func (p *pinger) Close() { unix.Close(p.fd) }

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// errTooBig is a ping the network refused with "fragmentation needed".
type errTooBig struct{ mtu int }

func (e errTooBig) Error() string { return fmt.Sprintf("fragmentation needed (MTU %d)", e.mtu) }

// ping sends one echo request of size bytes, IP header included, and
// waits until wait for its reply. It returns nil for a reply, errTooBig
// when the network said the packet was too big, or another error (a
// timeout, a local EMSGSIZE).
func (p *pinger) ping(size int, wait time.Duration) error {
	hdr := 20
	typ := byte(8)
	if p.v6 {
		hdr, typ = 40, 128
	}
	if size < hdr+8 {
		return fmt.Errorf("size %d too small", size)
	}
	p.seq++
	msg := make([]byte, size-hdr)
	msg[0] = typ
	binary.BigEndian.PutUint16(msg[4:], p.id)
	binary.BigEndian.PutUint16(msg[6:], p.seq)
	for i := 8; i < len(msg); i++ {
		msg[i] = byte(i)
	}
	if !p.v6 {
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	}
	if err := unix.Send(p.fd, msg, 0); err != nil {
		return p.sendErr(err)
	}
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65536)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return context.DeadlineExceeded
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		n, err := unix.Read(p.fd, buf)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return p.sendErr(err)
		}
		b := buf[:n]
		if p.raw && !p.v6 && len(b) > 0 {
			ihl := int(b[0]&0x0f) * 4
			if len(b) < ihl {
				continue
			}
			b = b[ihl:]
		}
		if len(b) < 8 {
			continue
		}
		reply := byte(0)
		if p.v6 {
			reply = 129
		}
		if b[0] != reply || binary.BigEndian.Uint16(b[6:]) != p.seq || (p.raw && binary.BigEndian.Uint16(b[4:]) != p.id) {
			continue
		}
		return nil
	}
}

// sendErr turns an error of the socket into errTooBig when the error
// queue holds a "fragmentation needed" with its MTU.
func (p *pinger) sendErr(err error) error {
	if !errors.Is(err, unix.EMSGSIZE) {
		return err
	}
	buf := make([]byte, 1500)
	oob := make([]byte, 512)
	_, oobn, _, _, rerr := unix.Recvmsg(p.fd, buf, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if rerr != nil {
		return fmt.Errorf("local: %w", err) // the interface's own MTU refused it
	}
	msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
	if perr != nil {
		return err
	}
	for _, m := range msgs {
		if len(m.Data) >= 16 {
			// struct sock_extended_err: errno, origin, type, code, pad, info, data.
			if e := binary.NativeEndian.Uint32(m.Data[0:]); e == uint32(unix.EMSGSIZE) {
				return errTooBig{mtu: int(binary.NativeEndian.Uint32(m.Data[8:]))}
			}
		}
	}
	return err
}

// pingWait is how long one ping waits for its reply.
const pingWait = 300 * time.Millisecond

// probeMTU finds the largest DF ping to host that is answered, between
// the family's minimum MTU and linkMTU, by bisection, within ctx.
func probeMTU(ctx context.Context, host netip.Addr, linkMTU int) MTUResult {
	r := MTUResult{Host: host, LinkMTU: linkMTU}
	p, err := newPinger(host)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer p.Close()
	lo := 576
	if host.Is6() {
		lo = 1280
	}
	if linkMTU < lo {
		lo = linkMTU
	}
	// answered tries a size up to twice: one lost ping is not a black hole.
	answered := func(size int) bool {
		for range 2 {
			if ctx.Err() != nil {
				return false
			}
			err := p.ping(size, pingWait)
			var tb errTooBig
			switch {
			case err == nil:
				return true
			case errors.As(err, &tb):
				r.FragNeeded = tb.mtu
				return false
			}
		}
		return false
	}
	if !answered(lo) {
		return r
	}
	r.Largest = lo
	if answered(linkMTU) {
		r.Largest = linkMTU
		return r
	}
	r.Failed = linkMTU
	// Invariant: Largest is answered, Failed is not.
	for r.Failed-r.Largest > 1 && ctx.Err() == nil {
		mid := (r.Largest + r.Failed) / 2
		if answered(mid) {
			r.Largest = mid
		} else {
			r.Failed = mid
		}
	}
	if ctx.Err() != nil && r.Failed-r.Largest > 1 {
		r.Err = fmt.Sprintf("the probe ran out of time between %d and %d bytes", r.Largest, r.Failed)
	}
	return r
}
