package netns

import (
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/uapisock"
)

// StopPeer stops the peer's WireGuard for good: its wireguard-go is
// killed, its interface and sessions go. The client's packets to it are
// then answered by nothing (an ICMP port unreachable at most).
func (tp *Topology) StopPeer(tb testing.TB) {
	tb.Helper()
	tp.peerProc.Kill()
	tp.peerProc.Wait(tb, 10*time.Second)
	// Its socket stays behind, and StartPeer waits for the new one.
	if err := uapisock.RemoveStale(tp.PeerIface); err != nil {
		tb.Fatal(err)
	}
}

// StartPeer starts the peer's WireGuard again after StopPeer, with the
// same key, port, peer and addresses: a server that restarted. It has no
// session with the client until the next handshake.
func (tp *Topology) StartPeer(tb testing.TB) {
	tb.Helper()
	tp.peerProc = startWireguardGoBin(tb, tp.Peer, tp.PeerIface, tp.WireguardGo)
	tp.setUpPeer(tb)
}
