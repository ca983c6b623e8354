package scheduler

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// nsScope is the set of namespaces a pod affinity term or spread constraint
// looks at: listed names, plus those whose labels match a selector.
type nsScope struct {
	names []string        // sorted
	sel   labels.Selector // nil: names only
}

func (s *nsScope) matches(ns string, nsLabels map[string]map[string]string) bool {
	for _, n := range s.names {
		if n == ns {
			return true
		}
	}
	if s.sel != nil {
		if s.sel.Empty() {
			return true
		}
		return s.sel.Matches(labels.Set(nsLabels[ns]))
	}
	return false
}

func (s *nsScope) key() string {
	k := strings.Join(s.names, ",")
	if s.sel != nil {
		k += "|" + selectorKey(s.sel)
	}
	return k
}

// labelKV is a label pair, used to index selectors that require it.
type labelKV struct{ k, v string }

// clause is one "pods in these namespaces matching this selector" test.
type clause struct {
	ns  nsScope
	sel labels.Selector
	// req is a label every matching pod must carry, if the selector has one;
	// it lets a new pod be tested only against the selectors it could match.
	req    labelKV
	hasReq bool
	// liveOnly leaves out terminating pods, as topology spread counts.
	liveOnly bool
}

func (c *clause) matches(pod *podInfo, nsLabels map[string]map[string]string) bool {
	if c.liveOnly && pod.pod.DeletionTimestamp != nil {
		return false
	}
	return c.ns.matches(pod.ns, nsLabels) && c.sel.Matches(labels.Set(pod.labels))
}

func (c *clause) key() string {
	k := c.ns.key() + "/" + selectorKey(c.sel)
	if c.liveOnly {
		k = "live:" + k
	}
	return k
}

func selectorKey(sel labels.Selector) string {
	if sel == nil {
		return "<nil>"
	}
	if _, ok := sel.Requirements(); !ok {
		return "<nothing>"
	}
	s := sel.String()
	if s == "" {
		return "<everything>"
	}
	return s
}

// newClause builds a clause from an API label selector. A nil selector
// matches no pod, as Kubernetes treats it in affinity terms.
func newClause(ns nsScope, ls *metav1.LabelSelector) clause {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		sel = labels.Nothing()
	}
	c := clause{ns: ns, sel: sel}
	if ls != nil {
		keys := make([]string, 0, len(ls.MatchLabels))
		for k := range ls.MatchLabels {
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			sort.Strings(keys)
			c.req, c.hasReq = labelKV{keys[0], ls.MatchLabels[keys[0]]}, true
		} else {
			for _, e := range ls.MatchExpressions {
				if e.Operator == metav1.LabelSelectorOpIn && len(e.Values) == 1 {
					c.req, c.hasReq = labelKV{e.Key, e.Values[0]}, true
					break
				}
			}
		}
	}
	return c
}

// affinityTerm is a parsed PodAffinityTerm of some pod.
type affinityTerm struct {
	clause
	topologyKey string
	weight      int32
}

func termScope(podNS string, t *corev1.PodAffinityTerm) nsScope {
	var s nsScope
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		s.names = []string{podNS}
		return s
	}
	s.names = append([]string(nil), t.Namespaces...)
	sort.Strings(s.names)
	if t.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			sel = labels.Nothing()
		}
		s.sel = sel
	}
	return s
}

func newAffinityTerm(podNS string, t *corev1.PodAffinityTerm, weight int32) affinityTerm {
	return affinityTerm{clause: newClause(termScope(podNS, t), t.LabelSelector), topologyKey: t.TopologyKey, weight: weight}
}

func (t *affinityTerm) key() string {
	return t.topologyKey + "@" + t.clause.key()
}

// podTerms are the parsed inter-pod affinity terms of a pod.
type podTerms struct {
	reqAffinity []affinityTerm
	reqAnti     []affinityTerm
	prefAff     []affinityTerm // weight > 0
	prefAnti    []affinityTerm // weight > 0, subtracted
}

func (pt *podTerms) empty() bool {
	return len(pt.reqAffinity) == 0 && len(pt.reqAnti) == 0 && len(pt.prefAff) == 0 && len(pt.prefAnti) == 0
}

func parsePodTerms(pod *corev1.Pod) podTerms {
	var pt podTerms
	a := pod.Spec.Affinity
	if a == nil {
		return pt
	}
	ns := pod.Namespace
	if a.PodAffinity != nil {
		for i := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			pt.reqAffinity = append(pt.reqAffinity, newAffinityTerm(ns, &a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i], 1))
		}
		for i := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
			if w.Weight != 0 {
				pt.prefAff = append(pt.prefAff, newAffinityTerm(ns, &w.PodAffinityTerm, w.Weight))
			}
		}
	}
	if a.PodAntiAffinity != nil {
		for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			pt.reqAnti = append(pt.reqAnti, newAffinityTerm(ns, &a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i], 1))
		}
		for i := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
			if w.Weight != 0 {
				pt.prefAnti = append(pt.prefAnti, newAffinityTerm(ns, &w.PodAffinityTerm, w.Weight))
			}
		}
	}
	return pt
}
