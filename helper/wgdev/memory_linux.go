package wgdev

import (
	"runtime"
	"runtime/debug"
)

// MemoryLimits are the process's soft memory limits (runtime/debug's
// SetMemoryLimit) with and without an embedded device.
//
// wireguard-go's buffers are 64 KiB each, taken from sync.Pools in
// batches of up to 128, and a device under load keeps tens of MiB of
// them live. An idle helper wants a low limit, so that the pools of a
// closed device go back to the system; a device under load near that
// limit makes the collector run a hundred times a second, and every
// collection empties the pools that the next packets then allocate
// again (measured: 108 collections a second and half of a plain
// wireguard-go's throughput at 64 MiB). So the limit follows the
// devices' life: Active from the first embedded device on, Idle again
// once the last one has closed and its memory was released.
type MemoryLimits struct {
	Idle, Active int64 // bytes; 0 leaves the limit alone
}

// SetMemoryLimits makes the manager set the process's soft memory limit
// to l.Active while it has an embedded device and to l.Idle otherwise,
// starting now.
func (m *Manager) SetMemoryLimits(l MemoryLimits) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limits = l
	m.applyLimitLocked()
}

// applyLimitLocked sets the limit for the devices there are now.
func (m *Manager) applyLimitLocked() {
	limit := m.limits.Idle
	if len(m.user) > 0 {
		limit = m.limits.Active
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}

// releaseMemory gives the memory of closed devices back to the system, if no
// device has been created since: two collections empty sync.Pool's
// victim cache too, then FreeOSMemory returns the pages.
func (m *Manager) releaseMemory() {
	m.mu.Lock()
	if len(m.user) > 0 {
		m.mu.Unlock()
		return
	}
	m.applyLimitLocked()
	m.mu.Unlock()
	runtime.GC()
	debug.FreeOSMemory()
}
