package scheduler

import (
	"strings"
)

// matchCounter counts, per node, the placed pods that match all its clauses.
// It is created the first time a pod to schedule asks for it and then kept
// current by every pod added or removed, so later pods with the same
// selector read the counts instead of recounting.
type matchCounter struct {
	clauses []clause
	perNode map[*nodeInfo]int32
}

func (m *matchCounter) matches(p *podInfo, nsLabels map[string]map[string]string) bool {
	for i := range m.clauses {
		if !m.clauses[i].matches(p, nsLabels) {
			return false
		}
	}
	return true
}

func (m *matchCounter) bump(n *nodeInfo, d int32) {
	v := m.perNode[n] + d
	if v == 0 {
		delete(m.perNode, n)
	} else {
		m.perNode[n] = v
	}
}

// counter returns the counter for pods matching all clauses. Caller holds c.mu.
func (c *Cache) counter(clauses []clause) *matchCounter {
	keys := make([]string, len(clauses))
	for i := range clauses {
		keys[i] = clauses[i].key()
	}
	key := strings.Join(keys, "&")
	if m := c.counters[key]; m != nil {
		return m
	}
	m := &matchCounter{clauses: clauses, perNode: map[*nodeInfo]int32{}}
	var req *clause
	for i := range clauses {
		if clauses[i].hasReq {
			req = &clauses[i]
			break
		}
	}
	if req != nil {
		for p := range c.posting[req.req] {
			if m.matches(p, c.nsLabels) {
				m.bump(p.node, 1)
			}
		}
		c.counterBuckets[req.req] = append(c.counterBuckets[req.req], m)
	} else {
		for _, p := range c.pods {
			if m.matches(p, c.nsLabels) {
				m.bump(p.node, 1)
			}
		}
		c.counterAny = append(c.counterAny, m)
	}
	c.counters[key] = m
	return m
}

// countPod updates the counters a pod can match. Caller holds c.mu.
func (c *Cache) countPod(p *podInfo, n *nodeInfo, d int32) {
	for k, v := range p.labels {
		for _, m := range c.counterBuckets[labelKV{k, v}] {
			if m.matches(p, c.nsLabels) {
				m.bump(n, d)
			}
		}
	}
	for _, m := range c.counterAny {
		if m.matches(p, c.nsLabels) {
			m.bump(n, d)
		}
	}
}

// termGroup gathers identical affinity terms of placed pods, counted per
// node, so a pod to schedule is tested once per distinct term rather than
// once per pod carrying it.
type termGroup struct {
	key     string
	term    affinityTerm
	anti    bool  // required anti-affinity (a filter)
	mult    int64 // score contribution per pod, for scoring groups
	perNode map[*nodeInfo]int32
	total   int
}

// hardPodAffinityWeight is what an existing pod's required affinity term adds
// to the score of nodes in its domain, kube-scheduler's default.
const hardPodAffinityWeight = 1

func (c *Cache) group(kind string, t affinityTerm, anti bool, mult int64) *termGroup {
	key := kind + "#" + t.key()
	if kind != "anti" {
		key += "#" + itoa(mult)
	}
	g := c.groups[key]
	if g == nil {
		g = &termGroup{key: key, term: t, anti: anti, mult: mult, perNode: map[*nodeInfo]int32{}}
		c.groups[key] = g
		if anti {
			c.antiGroups[g] = struct{}{}
		} else {
			c.scoreGroups[g] = struct{}{}
		}
	}
	return g
}

func (c *Cache) addGroups(p *podInfo, n *nodeInfo) {
	t := &p.terms
	if t.empty() {
		return
	}
	add := func(g *termGroup) {
		g.perNode[n]++
		g.total++
		p.groups = append(p.groups, g)
	}
	for _, term := range t.reqAnti {
		add(c.group("anti", term, true, 0))
	}
	for _, term := range t.reqAffinity {
		add(c.group("hard", term, false, hardPodAffinityWeight))
	}
	for _, term := range t.prefAff {
		add(c.group("pref", term, false, int64(term.weight)))
	}
	for _, term := range t.prefAnti {
		add(c.group("pref", term, false, -int64(term.weight)))
	}
}

func (c *Cache) removeGroups(p *podInfo, n *nodeInfo) {
	for _, g := range p.groups {
		if v := g.perNode[n] - 1; v == 0 {
			delete(g.perNode, n)
		} else {
			g.perNode[n] = v
		}
		g.total--
		if g.total == 0 {
			delete(c.groups, g.key)
			delete(c.antiGroups, g)
			delete(c.scoreGroups, g)
		}
	}
	p.groups = nil
}

func itoa(v int64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	var b [24]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
