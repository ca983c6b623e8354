package scheduler

import (
	"math"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// candidate is a node where evicting victims makes the pod fit.
type candidate struct {
	node    *nodeInfo
	victims []*podInfo // most important first
}

// preempt looks for lower-priority pods whose eviction lets the pod fit
// (kube-scheduler's DefaultPreemption, without PodDisruptionBudgets yet),
// recording the choice or why there is none on fe.
func (s *Scheduler) preempt(cy *cycle, fe *FitError) {
	pod := cy.pod
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		fe.PostFilterMsg = "preemption: not eligible due to preemptionPolicy=Never."
		return
	}
	nodes := s.cache.nodes
	all := len(nodes)
	reasons := make(map[string][]string, all)
	var potential []int
	for i := range nodes {
		if s.statuses[i].code == codeUnschedulable {
			potential = append(potential, i)
		} else {
			reasons[nodes[i].name] = reasonsPreemptionNotHelpful
		}
	}
	want := all * 10 / 100
	if want < 100 {
		want = 100
	}
	var cands []candidate
	offset := 0
	if len(potential) > 0 {
		offset = s.rnd.Intn(len(potential))
	}
	for k := 0; k < len(potential) && len(cands) < want; k++ {
		n := nodes[potential[(offset+k)%len(potential)]]
		victims, st := cy.selectVictims(n)
		if st.code != codeSuccess {
			reasons[n.name] = st.reasons
			continue
		}
		cands = append(cands, candidate{node: n, victims: victims})
	}
	if len(cands) == 0 {
		fe.PostFilterMsg = "preemption: " + histogramMessage(all, reasons)
		return
	}
	best := pickCandidate(cands)
	p := &Preemption{NodeName: best.node.name}
	for _, v := range best.victims {
		p.Victims = append(p.Victims, v.pod)
	}
	fe.Preemption = p
}

// selectVictims removes every lower-priority pod from n, checks the pod then
// fits, and gives back as many of them as still leave it fitting, most
// important first; those left out are the victims. The node and the cycle
// are restored before returning.
func (cy *cycle) selectVictims(n *nodeInfo) ([]*podInfo, status) {
	var lower []*podInfo
	for _, p := range n.pods {
		if p.priority < cy.pi.priority {
			lower = append(lower, p)
		}
	}
	if len(lower) == 0 {
		return nil, fail(codeUnresolvable, reasonsNoPreemptionVictims)
	}
	// The victims leave the node's pod list too, for the pods-count check.
	saved := n.pods
	n.pods = make([]*podInfo, 0, len(saved))
	isLower := make(map[*podInfo]bool, len(lower))
	for _, p := range lower {
		isLower[p] = true
	}
	for _, p := range saved {
		if !isLower[p] {
			n.pods = append(n.pods, p)
		}
	}
	for _, p := range lower {
		n.discharge(p)
		cy.adjust(p, n, -1)
	}
	defer func() {
		for _, p := range n.pods {
			if isLower[p] {
				n.discharge(p)
				cy.adjust(p, n, -1)
			}
		}
		for _, p := range lower {
			n.charge(p)
			cy.adjust(p, n, 1)
		}
		n.pods = saved
	}()
	if st := cy.filter(n); st.code != codeSuccess {
		return nil, st
	}
	sort.SliceStable(lower, func(i, j int) bool { return moreImportant(lower[i], lower[j]) })
	var victims []*podInfo
	for _, p := range lower {
		n.charge(p)
		cy.adjust(p, n, 1)
		n.pods = append(n.pods, p)
		if cy.filter(n).code == codeSuccess {
			continue // reprieved
		}
		n.pods = n.pods[:len(n.pods)-1]
		n.discharge(p)
		cy.adjust(p, n, -1)
		victims = append(victims, p)
	}
	return victims, status{}
}

// moreImportant orders by priority, then by start time (older first).
func moreImportant(a, b *podInfo) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return startTime(a.pod).Before(startTime(b.pod))
}

func startTime(p *corev1.Pod) *metav1.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime
	}
	return &p.CreationTimestamp
}

// pickCandidate applies kube-scheduler's order: lowest highest-victim
// priority, lowest sum of priorities, fewest victims, latest start of the
// highest-priority victims, then the first.
func pickCandidate(cands []candidate) candidate {
	best := 0
	for i := 1; i < len(cands); i++ {
		if betterCandidate(cands[i], cands[best]) {
			best = i
		}
	}
	return cands[best]
}

func betterCandidate(a, b candidate) bool {
	ha, hb := a.victims[0].priority, b.victims[0].priority
	if ha != hb {
		return ha < hb
	}
	sa, sb := prioritySum(a.victims), prioritySum(b.victims)
	if sa != sb {
		return sa < sb
	}
	if len(a.victims) != len(b.victims) {
		return len(a.victims) < len(b.victims)
	}
	ea, eb := earliestTopStart(a.victims), earliestTopStart(b.victims)
	return eb.Before(ea)
}

// prioritySum shifts priorities to be positive, so more victims never sum
// lower than fewer of the same priority.
func prioritySum(vs []*podInfo) int64 {
	var s int64
	for _, v := range vs {
		s += int64(v.priority) + int64(math.MaxInt32) + 1
	}
	return s
}

func earliestTopStart(vs []*podInfo) *metav1.Time {
	top := vs[0].priority
	t := startTime(vs[0].pod)
	for _, v := range vs[1:] {
		if v.priority == top && startTime(v.pod).Before(t) {
			t = startTime(v.pod)
		}
	}
	return t
}
