package scheduler

import (
	"errors"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
)

// ErrNoNodes is returned when the cache holds no node at all.
var ErrNoNodes = errors.New("no nodes available to schedule pods")

// Options configure the algorithm.
type Options struct {
	// Strategy is NodeResourcesFit's scoring: LeastAllocated (default)
	// spreads pods, MostAllocated packs them.
	Strategy ScoringStrategy
	// PercentageOfNodesToScore bounds how many feasible nodes are looked for
	// before scoring; 0 is kube-scheduler's adaptive default (50% less 1%
	// per 125 nodes, at least 5% and at least 100 nodes).
	PercentageOfNodesToScore int32
	// Parallelism is how many goroutines filter and score; 0 is GOMAXPROCS.
	Parallelism int
	// Seed seeds tie-breaking between equally scored nodes; 0 picks one.
	Seed int64
}

// Scheduler places pods on the nodes of a Cache. Schedule is called from one
// goroutine at a time; the cache may be updated concurrently.
type Scheduler struct {
	cache *Cache
	opts  Options
	rnd   *rand.Rand
	next  int // rotating start of the node walk

	statuses []status
	feasible []*nodeInfo
	rows     [numScores][]int64
}

// New returns a scheduler over cache.
func New(cache *Cache, opts Options) *Scheduler {
	if opts.Strategy == "" {
		opts.Strategy = LeastAllocated
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Int63()
	}
	return &Scheduler{cache: cache, opts: opts, rnd: rand.New(rand.NewSource(seed))}
}

// Cache returns the scheduler's cache.
func (s *Scheduler) Cache() *Cache { return s.cache }

func (s *Scheduler) workers() int {
	if s.opts.Parallelism > 0 {
		return s.opts.Parallelism
	}
	return runtime.GOMAXPROCS(0)
}

// numFeasibleNodesToFind is how many feasible nodes to find before scoring.
func numFeasibleNodesToFind(percentage int32, all int) int {
	const minNodes, minPercent = 100, 5
	if all < minNodes || percentage >= 100 {
		return all
	}
	p := percentage
	if p <= 0 {
		p = 50 - int32(all/125)
		if p < minPercent {
			p = minPercent
		}
	}
	n := all * int(p) / 100
	if n < minNodes {
		return minNodes
	}
	return n
}

// Schedule picks a node for pod, or returns a *FitError saying why no node
// fits (and, when preempting lower-priority pods would help, which).
// It does not place the pod: the caller assumes it once decided.
func (s *Scheduler) Schedule(pod *corev1.Pod) (string, error) {
	c := s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.nodes) == 0 {
		return "", ErrNoNodes
	}
	cy := newCycle(c, pod)

	// A pod that preempted others goes back to its nominated node first.
	if nn := pod.Status.NominatedNodeName; nn != "" {
		if n := c.byName[nn]; n != nil && n.idx >= 0 && cy.filter(n).code == codeSuccess {
			return nn, nil
		}
	}

	feasible := s.findFeasible(cy)
	switch len(feasible) {
	case 0:
		fe := s.fitError(cy)
		s.preempt(cy, fe)
		return "", fe
	case 1:
		return feasible[0].name, nil
	}
	return s.pick(cy, feasible), nil
}

// findFeasible filters nodes in parallel from the rotating start until
// enough feasible ones are found.
func (s *Scheduler) findFeasible(cy *cycle) []*nodeInfo {
	nodes := s.cache.nodes
	all := len(nodes)
	want := numFeasibleNodesToFind(s.opts.PercentageOfNodesToScore, all)
	if cap(s.statuses) < all {
		s.statuses = make([]status, all)
	}
	s.statuses = s.statuses[:all]
	if cap(s.feasible) < want {
		s.feasible = make([]*nodeInfo, want)
	}
	feasible := s.feasible[:want]
	start := s.next % all

	var found, processed int32
	var nextChunk int64
	const chunk = 16
	work := func() {
		done := int32(0)
		defer func() { atomic.AddInt32(&processed, done) }()
		for {
			lo := int(atomic.AddInt64(&nextChunk, chunk) - chunk)
			if lo >= all || int(atomic.LoadInt32(&found)) >= want {
				return
			}
			hi := lo + chunk
			if hi > all {
				hi = all
			}
			for i := lo; i < hi; i++ {
				idx := (start + i) % all
				n := nodes[idx]
				st := cy.filter(n)
				done++
				if st.code != codeSuccess {
					s.statuses[idx] = st
					continue
				}
				slot := int(atomic.AddInt32(&found, 1)) - 1
				if slot >= want {
					return
				}
				feasible[slot] = n
			}
		}
	}
	s.parallel(work)
	s.next = (start + int(processed)) % all
	nf := int(found)
	if nf > want {
		nf = want
	}
	return feasible[:nf]
}

// parallel runs work on every worker and waits.
func (s *Scheduler) parallel(work func()) {
	w := s.workers()
	if w <= 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 0; i < w-1; i++ {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// pick scores the feasible nodes and returns the best, ties broken at random.
func (s *Scheduler) pick(cy *cycle, feasible []*nodeInfo) string {
	totals := s.score(cy, feasible)
	best, bestScore, ties := 0, int64(-1), 0
	for i, t := range totals {
		switch {
		case t > bestScore:
			best, bestScore, ties = i, t, 1
		case t == bestScore:
			ties++
			if s.rnd.Intn(ties) == 0 {
				best = i
			}
		}
	}
	return feasible[best].name
}

// score returns the weighted total of the normalized plugin scores per
// feasible node (in s.rows[numScores-1]'s spare buffer).
func (s *Scheduler) score(cy *cycle, feasible []*nodeInfo) []int64 {
	cy.prepareScores(feasible)
	nf := len(feasible)
	for p := range s.rows {
		if cap(s.rows[p]) < nf {
			s.rows[p] = make([]int64, nf)
		}
		s.rows[p] = s.rows[p][:nf]
		clear(s.rows[p])
	}
	var next int64
	const chunk = 32
	s.parallel(func() {
		for {
			lo := int(atomic.AddInt64(&next, chunk) - chunk)
			if lo >= nf {
				return
			}
			hi := min(lo+chunk, nf)
			for i := lo; i < hi; i++ {
				cy.rawScores(s.opts.Strategy, feasible[i], i, &s.rows)
			}
		}
	})
	cy.normalize(&s.rows)
	totals := make([]int64, nf)
	for p := range s.rows {
		w := scoreWeights[p]
		for i, v := range s.rows[p] {
			totals[i] += w * v
		}
	}
	return totals
}
