package scheduler

import (
	"math"
)

// MaxNodeScore is the top of every plugin's normalized score.
const MaxNodeScore int64 = 100

// ScoringStrategy chooses how NodeResourcesFit ranks nodes.
type ScoringStrategy string

const (
	// LeastAllocated favours nodes with the most room left: pods spread.
	LeastAllocated ScoringStrategy = "LeastAllocated"
	// MostAllocated favours the fullest nodes that still fit: bin-packing.
	MostAllocated ScoringStrategy = "MostAllocated"
)

// Plugin weights, kube-scheduler's defaults.
const (
	weightResources    = 1
	weightNodeAffinity = 2
	weightInterPod     = 2
	weightTaints       = 3
	weightSpread       = 2
)

// Score plugins, indexes into the per-plugin score rows.
const (
	scoreResources = iota
	scoreNodeAffinity
	scoreInterPod
	scoreTaints
	scoreSpread
	numScores
)

var scoreWeights = [numScores]int64{weightResources, weightNodeAffinity, weightInterPod, weightTaints, weightSpread}

// rawScores fills row[p][i] for feasible node i for every active plugin.
func (cy *cycle) rawScores(strategy ScoringStrategy, n *nodeInfo, i int, rows *[numScores][]int64) {
	rows[scoreResources][i] = resourceScore(strategy, n, cy.pi)
	if cy.prefNodeAff != nil {
		if cy.prefMemo != nil && n.idx >= 0 && n.idx < len(cy.prefMemo) {
			rows[scoreNodeAffinity][i] = cy.prefMemo[n.idx]
		} else {
			rows[scoreNodeAffinity][i] = cy.prefNodeAff.Score(n.node)
		}
	}
	if cy.ipaScore != nil {
		var s int64
		for key, vals := range cy.ipaScore {
			if v, ok := n.labels[key]; ok {
				s += vals[v]
			}
		}
		rows[scoreInterPod][i] = s
	}
	rows[scoreTaints][i] = int64(countIntolerable(n, cy))
	if len(cy.softSpread) > 0 {
		rows[scoreSpread][i] = cy.spreadScore(n)
	}
}

// NodeResourcesFit score over cpu and memory, weighted equally, using
// requests with defaults for containers that set none.
func resourceScore(strategy ScoringStrategy, n *nodeInfo, p *podInfo) int64 {
	most := strategy == MostAllocated
	var sum, weights int64
	if alloc := n.alloc.milliCPU; alloc > 0 {
		sum += resourceFraction(most, n.nonZeroCPU+p.nonZeroCPU, alloc)
		weights++
	}
	if alloc := n.alloc.memory; alloc > 0 {
		sum += resourceFraction(most, n.nonZeroMem+p.nonZeroMem, alloc)
		weights++
	}
	switch weights {
	case 0:
		return 0
	case 1:
		return sum
	}
	return sum / 2
}

func resourceFraction(most bool, req, alloc int64) int64 {
	if most {
		if req > alloc {
			req = alloc
		}
		return req * MaxNodeScore / alloc
	}
	if req > alloc {
		return 0
	}
	return (alloc - req) * MaxNodeScore / alloc
}

func countIntolerable(n *nodeInfo, cy *cycle) int {
	cnt := 0
	for i := range n.softTaints {
		ok := false
		for j := range cy.softTols {
			if cy.softTols[j].ToleratesTaint(discard, &n.softTaints[i], false) {
				ok = true
				break
			}
		}
		if !ok {
			cnt++
		}
	}
	return cnt
}

func (cy *cycle) spreadScore(n *nodeInfo) int64 {
	if !hasAllKeys(n.labels, cy.softSpread[0].keys) {
		return -1 // ignored node, scored 0 after normalization
	}
	var score float64
	for _, s := range cy.softSpread {
		cnt := s.counts[n.labels[s.key]]
		score += float64(cnt)*s.weight + float64(s.maxSkew-1)
	}
	return int64(math.Round(score))
}

// prepareScores computes the state the score plugins need for this set of
// feasible nodes (kube-scheduler's PreScore).
func (cy *cycle) prepareScores(feasible []*nodeInfo) {
	cy.interPodScoreState()
	for _, s := range cy.softSpread {
		seen := map[string]struct{}{}
		for _, n := range feasible {
			if hasAllKeys(n.labels, s.keys) {
				seen[n.labels[s.key]] = struct{}{}
			}
		}
		s.weight = math.Log(float64(len(seen) + 2))
	}
}

// interPodScoreState sums, per topology domain, the weights of the pod's
// preferred terms over matching placed pods and of placed pods' terms that
// match the pod.
func (cy *cycle) interPodScoreState() {
	c, t := cy.c, &cy.pi.terms
	add := func(key string, n *nodeInfo, w int64) {
		v, ok := n.labels[key]
		if !ok || w == 0 {
			return
		}
		if cy.ipaScore == nil {
			cy.ipaScore = map[string]map[string]int64{}
		}
		m := cy.ipaScore[key]
		if m == nil {
			m = map[string]int64{}
			cy.ipaScore[key] = m
		}
		m[v] += w
	}
	for _, terms := range [2]struct {
		list []affinityTerm
		sign int64
	}{{t.prefAff, 1}, {t.prefAnti, -1}} {
		for i := range terms.list {
			term := &terms.list[i]
			m := c.counter([]clause{term.clause})
			for n, cnt := range m.perNode {
				add(term.topologyKey, n, terms.sign*int64(term.weight)*int64(cnt))
			}
		}
	}
	for g := range c.scoreGroups {
		if !g.term.matches(cy.pi, c.nsLabels) {
			continue
		}
		for n, cnt := range g.perNode {
			add(g.term.topologyKey, n, g.mult*int64(cnt))
		}
	}
}

// normalize turns raw rows into 0-100 scores, each plugin its own way.
func (cy *cycle) normalize(rows *[numScores][]int64) {
	if cy.prefNodeAff != nil {
		defaultNormalize(rows[scoreNodeAffinity], false)
	}
	if cy.ipaScore != nil {
		minMaxNormalize(rows[scoreInterPod])
	}
	defaultNormalize(rows[scoreTaints], true)
	if len(cy.softSpread) > 0 {
		spreadNormalize(rows[scoreSpread])
	}
}

func defaultNormalize(s []int64, reverse bool) {
	var max int64
	for _, v := range s {
		if v > max {
			max = v
		}
	}
	for i, v := range s {
		if max == 0 {
			if reverse {
				s[i] = MaxNodeScore
			}
			continue
		}
		v = MaxNodeScore * v / max
		if reverse {
			v = MaxNodeScore - v
		}
		s[i] = v
	}
}

func minMaxNormalize(s []int64) {
	min, max := int64(math.MaxInt64), int64(math.MinInt64)
	for _, v := range s {
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	for i, v := range s {
		if max-min > 0 {
			s[i] = int64(float64(MaxNodeScore) * float64(v-min) / float64(max-min))
		} else {
			s[i] = 0
		}
	}
}

// spreadNormalize favours the nodes whose domains hold the fewest matching
// pods; nodes lacking a key (raw -1) get 0.
func spreadNormalize(s []int64) {
	min, max := int64(math.MaxInt64), int64(0)
	for _, v := range s {
		if v < 0 {
			continue
		}
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	for i, v := range s {
		switch {
		case v < 0:
			s[i] = 0
		case max == 0:
			s[i] = MaxNodeScore
		default:
			s[i] = MaxNodeScore * (max + min - v) / max
		}
	}
}
