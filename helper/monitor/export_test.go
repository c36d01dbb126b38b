package monitor

// breakSubscription closes the socket of the current subscription behind
// the Monitor's back, as a socket that fails would end: the test hook for
// the recovery (a new subscription, then Resynced). It is no Close.
func (m *Monitor) breakSubscription() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sock == nil {
		return false
	}
	m.sock.Close()
	return true
}
