package scheduler

import (
	"encoding/json"
)

// nodeMemo holds a per-node value derived from node labels alone (does a
// required node affinity match, what a preferred one scores), shared by the
// pods that carry the same affinity while no node's labels change. Matching
// through nodeaffinity allocates per node; a pod reusing a memo does not.
type nodeMemo struct {
	gen  uint64
	uses int
	vals []int64 // by nodeInfo.idx; nil until the key is seen twice
}

// memo returns the per-node values for key, computing them with fn once the
// key has been asked for twice in this node generation; nil means "compute
// it yourself". Caller holds c.mu.
func (c *Cache) memo(key string, fn func(n *nodeInfo) int64) []int64 {
	m := c.memos[key]
	if m == nil || m.gen != c.nodeGen {
		m = &nodeMemo{gen: c.nodeGen}
		if len(c.memos) > 4096 {
			clear(c.memos) // a crude bound; keys are per distinct affinity
		}
		c.memos[key] = m
	}
	m.uses++
	if m.vals == nil && m.uses >= 2 {
		m.vals = make([]int64, len(c.nodes))
		for i, n := range c.nodes {
			m.vals[i] = fn(n)
		}
	}
	return m.vals
}

func jsonKey(prefix string, v any) string {
	b, _ := json.Marshal(v)
	return prefix + string(b)
}
