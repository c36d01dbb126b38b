package wgdev

import (
	"fmt"
	"net"
	"net/netip"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// SetEndpoint sets a peer's endpoint again (its name re-resolved, or the
// same address after a network change) and, on an embedded device, sends
// a handshake initiation at once, so that a peer that moved or a path
// that came back is known within a round trip instead of at the next
// packet. The kernel's device handshakes with the next packet sent.
func (m *Manager) SetEndpoint(name string, peer wgtypes.Key, ep netip.AddrPort) error {
	udp := net.UDPAddrFromAddrPort(ep)
	cfg := wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: peer, UpdateOnly: true, Endpoint: udp}}}
	if err := m.Configure(name, cfg); err != nil {
		return err
	}
	m.mu.Lock()
	ud := m.user[name]
	m.mu.Unlock()
	if ud == nil {
		return nil
	}
	p := ud.dev.LookupPeer(device.NoisePublicKey(peer))
	if p == nil {
		return fmt.Errorf("WireGuard device %q has no peer %s", name, peer)
	}
	// At most one every REKEY_TIMEOUT (5 s): wireguard-go skips it
	// otherwise, which is what we want from a heal that repeats.
	if err := p.SendHandshakeInitiation(false); err != nil {
		return fmt.Errorf("handshake with peer %s of %q: %w", peer, name, err)
	}
	return nil
}

// LinkMTU returns the MTU of a link, 0 if it is gone.
func (m *Manager) LinkMTU(name string) int {
	l, err := m.nl.LinkByName(name)
	if err != nil {
		return 0
	}
	return l.Attrs().MTU
}
