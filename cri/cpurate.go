package cri

import (
	"sync"
	"time"
)

// cpuRates turns cumulative CPU time into a rate: it keeps readings per ID and answers
// the cores used since a reading at least minWindow older when it has one. The kubelet
// asks for container stats and sandbox stats moments apart; measured against the reading
// of a moment ago, a throttled container would show a rate of nothing or of several cores.
type cpuRates struct {
	mu   sync.Mutex
	last map[string]cpuHistory
}

// cpuHistory is the latest kept reading and, once there is one, the reading kept before
// it, at least minWindow older.
type cpuHistory struct {
	older, newer cpuReading
	hasOlder     bool
}

type cpuReading struct {
	at    time.Time
	usage uint64 // nanoseconds of CPU time
}

const minWindow = time.Second

// rate returns the CPU use of id in nanoseconds of CPU time per second (nano-cores); 0
// for a first reading, or when the counter went back (the container ran again, or a
// sandbox lost a container).
func (r *cpuRates) rate(id string, at time.Time, usage uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]cpuHistory{}
	}
	now := cpuReading{at, usage}
	h, ok := r.last[id]
	if !ok || usage < h.newer.usage || !at.After(h.newer.at) {
		r.last[id] = cpuHistory{newer: now}
		return 0
	}
	base := h.newer
	if at.Sub(h.newer.at) >= minWindow {
		r.last[id] = cpuHistory{older: h.newer, newer: now, hasOlder: true}
	} else if h.hasOlder {
		base = h.older
	}
	return uint64(float64(usage-base.usage) / at.Sub(base.at).Seconds())
}

// keepOnly forgets the readings of IDs not in ids (containers and sandboxes gone).
func (r *cpuRates) keepOnly(ids map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.last {
		if !ids[id] {
			delete(r.last, id)
		}
	}
}
