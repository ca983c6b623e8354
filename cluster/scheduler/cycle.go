package scheduler

import (
	"math"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

var discard = logr.Discard()

// cycle is what is computed once per pod to schedule, before any node is
// looked at (kube-scheduler's PreFilter and PreScore state).
type cycle struct {
	c   *Cache
	pod *corev1.Pod
	pi  *podInfo

	tolUnschedulable bool
	nodeAff          nodeaffinity.RequiredNodeAffinity
	hasNodeAff       bool
	affKey           string
	affMemo          []int64 // 1 where the required node affinity matches
	prefMemo         []int64 // preferred node affinity score per node

	// InterPodAffinity: counts by topology key then value.
	affCounter   *matchCounter
	affCounts    map[string]map[string]int32
	antiCounters []*matchCounter
	antiCounts   []map[string]int32 // per required anti-affinity term
	existingAnti map[string]map[string]int32
	// existingAntiList is existingAnti as a slice, cheaper to walk per node.
	existingAntiList []keyedCounts
	noRequests       bool
	antiMatching     map[*termGroup]bool // existing anti-affinity groups matching the pod

	hardSpread []*spread
	softSpread []*spread

	prefNodeAff *nodeaffinity.PreferredSchedulingTerms
	softTols    []corev1.Toleration
	ipaScore    map[string]map[string]int64
}

// matchesNodeAffinity is the NodeAffinity filter's test, memoized.
func (cy *cycle) matchesNodeAffinity(n *nodeInfo) bool {
	if !cy.hasNodeAff {
		return true
	}
	if cy.affMemo != nil && n.idx >= 0 && n.idx < len(cy.affMemo) {
		return cy.affMemo[n.idx] == 1
	}
	ok, err := cy.nodeAff.Match(n.node)
	return err == nil && ok
}

func (cy *cycle) affinityKey() string {
	if cy.affKey == "" {
		cy.affKey = requiredAffinityKey(cy.pod)
	}
	return cy.affKey
}

type keyedCounts struct {
	key  string
	vals map[string]int32
}

// spread is one topology spread constraint with its counts.
type spread struct {
	key        string
	maxSkew    int32
	minDomains int32
	selfMatch  int32
	keys       []string // keys of all constraints of the same kind
	counter    *matchCounter
	elig       *eligibility
	counts     map[string]int32
	domains    int
	min        int32
	weight     float64
}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

func newCycle(c *Cache, pod *corev1.Pod) *cycle {
	cy := &cycle{c: c, pod: pod, pi: newPodInfo(pod)}
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(discard, &unschedulableTaint, false) {
			cy.tolUnschedulable = true
		}
	}
	cy.nodeAff = nodeaffinity.GetRequiredNodeAffinity(pod)
	a := pod.Spec.Affinity
	cy.hasNodeAff = len(pod.Spec.NodeSelector) > 0 || a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil
	if cy.hasNodeAff {
		cy.affMemo = c.memo("req:"+cy.affinityKey(), func(n *nodeInfo) int64 {
			if ok, err := cy.nodeAff.Match(n.node); err == nil && ok {
				return 1
			}
			return 0
		})
	}
	if a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		if p, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution); err == nil {
			cy.prefNodeAff = p
			cy.prefMemo = c.memo(jsonKey("pref:", a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution), func(n *nodeInfo) int64 {
				return p.Score(n.node)
			})
		}
	}
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			cy.softTols = append(cy.softTols, t)
		}
	}
	cy.noRequests = cy.pi.req.isZero()
	cy.interPodState()
	for k, v := range cy.existingAnti {
		cy.existingAntiList = append(cy.existingAntiList, keyedCounts{k, v})
	}
	cy.spreadState()
	return cy
}

func (cy *cycle) interPodState() {
	c, t := cy.c, &cy.pi.terms
	if len(t.reqAffinity) > 0 {
		cl := make([]clause, len(t.reqAffinity))
		for i := range t.reqAffinity {
			cl[i] = t.reqAffinity[i].clause
		}
		cy.affCounter = c.counter(cl)
		cy.affCounts = map[string]map[string]int32{}
		for n, cnt := range cy.affCounter.perNode {
			cy.bumpAffinity(n, cnt)
		}
	}
	for i := range t.reqAnti {
		m := c.counter([]clause{t.reqAnti[i].clause})
		counts := map[string]int32{}
		key := t.reqAnti[i].topologyKey
		for n, cnt := range m.perNode {
			if v, ok := n.labels[key]; ok {
				counts[v] += cnt
			}
		}
		cy.antiCounters = append(cy.antiCounters, m)
		cy.antiCounts = append(cy.antiCounts, counts)
	}
	for g := range c.antiGroups {
		if !g.term.matches(cy.pi, c.nsLabels) {
			continue
		}
		if cy.antiMatching == nil {
			cy.antiMatching = map[*termGroup]bool{}
			cy.existingAnti = map[string]map[string]int32{}
		}
		cy.antiMatching[g] = true
		for n, cnt := range g.perNode {
			cy.bumpExistingAnti(g, n, cnt)
		}
	}
}

func (cy *cycle) bumpAffinity(n *nodeInfo, d int32) {
	for i := range cy.pi.terms.reqAffinity {
		key := cy.pi.terms.reqAffinity[i].topologyKey
		v, ok := n.labels[key]
		if !ok {
			continue
		}
		m := cy.affCounts[key]
		if m == nil {
			m = map[string]int32{}
			cy.affCounts[key] = m
		}
		m[v] += d
		if m[v] == 0 {
			delete(m, v)
			if len(m) == 0 {
				delete(cy.affCounts, key)
			}
		}
	}
}

func (cy *cycle) bumpExistingAnti(g *termGroup, n *nodeInfo, d int32) {
	key := g.term.topologyKey
	v, ok := n.labels[key]
	if !ok {
		return
	}
	m := cy.existingAnti[key]
	if m == nil {
		m = map[string]int32{}
		cy.existingAnti[key] = m
	}
	m[v] += d
	if m[v] == 0 {
		delete(m, v)
	}
}

func (cy *cycle) spreadState() {
	pod := cy.pod
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		return
	}
	var hardKeys, softKeys []string
	for _, tc := range pod.Spec.TopologySpreadConstraints {
		if tc.WhenUnsatisfiable == corev1.ScheduleAnyway {
			softKeys = append(softKeys, tc.TopologyKey)
		} else {
			hardKeys = append(hardKeys, tc.TopologyKey)
		}
	}
	for i := range pod.Spec.TopologySpreadConstraints {
		tc := &pod.Spec.TopologySpreadConstraints[i]
		sel := spreadSelector(pod, tc)
		cl := newClause(nsScope{names: []string{pod.Namespace}}, sel)
		cl.liveOnly = true
		s := &spread{key: tc.TopologyKey, maxSkew: tc.MaxSkew, minDomains: 1, counter: cy.c.counter([]clause{cl})}
		if tc.MinDomains != nil {
			s.minDomains = *tc.MinDomains
		}
		if cl.sel.Matches(labels.Set(pod.Labels)) {
			s.selfMatch = 1
		}
		honorAff := tc.NodeAffinityPolicy == nil || *tc.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
		honorTaints := tc.NodeTaintsPolicy != nil && *tc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		s.elig = cy.c.spreadEligibility(cy, honorAff, honorTaints)
		if tc.WhenUnsatisfiable == corev1.ScheduleAnyway {
			s.keys = softKeys
		} else {
			s.keys = hardKeys
		}
		s.counts = map[string]int32{}
		for n, cnt := range s.counter.perNode {
			if s.elig.counts(n, s.keys) {
				s.counts[n.labels[s.key]] += cnt
			}
		}
		if tc.WhenUnsatisfiable == corev1.ScheduleAnyway {
			cy.softSpread = append(cy.softSpread, s)
			continue
		}
		s.domains = s.elig.domainCount(cy.c, s.keys, s.key)
		s.computeMin()
		cy.hardSpread = append(cy.hardSpread, s)
	}
}

func (s *spread) computeMin() {
	if s.domains < int(s.minDomains) {
		s.min = 0
		return
	}
	min, nonzero := int32(math.MaxInt32), 0
	for _, v := range s.counts {
		if v > 0 {
			nonzero++
		}
		if v < min {
			min = v
		}
	}
	if nonzero < s.domains || min == math.MaxInt32 {
		min = 0
	}
	s.min = min
}

// spreadSelector is the constraint's selector with matchLabelKeys merged in.
func spreadSelector(pod *corev1.Pod, tc *corev1.TopologySpreadConstraint) *metav1.LabelSelector {
	if len(tc.MatchLabelKeys) == 0 || tc.LabelSelector == nil {
		return tc.LabelSelector
	}
	sel := tc.LabelSelector.DeepCopy()
	for _, k := range tc.MatchLabelKeys {
		if v, ok := pod.Labels[k]; ok {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
		}
	}
	return sel
}

// adjust accounts for pod v leaving (d = -1) or returning to (d = +1) node
// n, for preemption's what-if evaluation; the node's own aggregates are
// charged by the caller.
func (cy *cycle) adjust(v *podInfo, n *nodeInfo, d int32) {
	nsl := cy.c.nsLabels
	if cy.affCounter != nil && cy.affCounter.matches(v, nsl) {
		cy.bumpAffinity(n, d)
	}
	for i, m := range cy.antiCounters {
		if m.matches(v, nsl) {
			if val, ok := n.labels[cy.pi.terms.reqAnti[i].topologyKey]; ok {
				cy.antiCounts[i][val] += d
			}
		}
	}
	for _, g := range v.groups {
		if cy.antiMatching[g] {
			cy.bumpExistingAnti(g, n, d)
		}
	}
	for _, s := range cy.hardSpread {
		if s.elig.counts(n, s.keys) && s.counter.matches(v, nsl) {
			s.counts[n.labels[s.key]] += d
			s.computeMin()
		}
	}
}
