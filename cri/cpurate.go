package cri

import (
	"sync"
	"time"
)

// cpuRates turns cumulative CPU time into a rate: it keeps the last reading per ID and
// answers the cores used between that reading and a new one. The kubelet asks for
// stats every few seconds; readings taken closer than minWindow after the kept one are
// measured against it without replacing it, so two callers asking at once still get a
// rate over a useful window.
type cpuRates struct {
	mu   sync.Mutex
	last map[string]cpuReading
}

type cpuReading struct {
	at    time.Time
	usage uint64 // nanoseconds of CPU time
}

const minWindow = time.Second

// rate returns the CPU use of id, in nanoseconds of CPU time per second (nano-cores),
// since the kept reading; 0 for a first reading, or when the counter went back (the
// container ran again, or a sandbox lost a container).
func (r *cpuRates) rate(id string, at time.Time, usage uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]cpuReading{}
	}
	prev, ok := r.last[id]
	if !ok || usage < prev.usage || !at.After(prev.at) {
		r.last[id] = cpuReading{at, usage}
		return 0
	}
	window := at.Sub(prev.at)
	if window >= minWindow {
		r.last[id] = cpuReading{at, usage}
	}
	return uint64(float64(usage-prev.usage) / window.Seconds())
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
