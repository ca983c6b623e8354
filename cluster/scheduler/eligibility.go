package scheduler

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// eligibility is which nodes count for a pod's topology spread: those its
// node affinity selects (nodeAffinityPolicy Honor, the default) and, with
// nodeTaintsPolicy Honor, whose taints it tolerates. Pods with the same
// constraints on nodes share one, rebuilt only when nodes change.
type eligibility struct {
	gen     uint64
	ok      []bool // by nodeInfo.idx
	domains map[string]int
}

// spreadEligibility returns the eligibility for the given policies. Caller
// holds c.mu.
func (c *Cache) spreadEligibility(cy *cycle, honorAffinity, honorTaints bool) *eligibility {
	var b strings.Builder
	if honorAffinity && cy.hasNodeAff {
		b.WriteString(cy.affinityKey())
	}
	if honorTaints {
		tj, _ := json.Marshal(cy.pod.Spec.Tolerations)
		b.WriteString("|taints:")
		b.Write(tj)
	}
	key := b.String()
	e := c.elig[key]
	if e != nil && e.gen == c.nodeGen {
		return e
	}
	e = &eligibility{gen: c.nodeGen, ok: make([]bool, len(c.nodes)), domains: map[string]int{}}
	for i, n := range c.nodes {
		ok := true
		if honorAffinity {
			ok = cy.matchesNodeAffinity(n)
		}
		if ok && honorTaints {
			ok = !untolerated(n.hardTaints, cy.pod.Spec.Tolerations)
		}
		e.ok[i] = ok
	}
	c.elig[key] = e
	return e
}

// domainCount is how many distinct values key takes on eligible nodes that
// carry all of keys.
func (e *eligibility) domainCount(c *Cache, keys []string, key string) int {
	ck := strings.Join(keys, ",") + "/" + key
	if v, ok := e.domains[ck]; ok {
		return v
	}
	seen := map[string]struct{}{}
	for i, n := range c.nodes {
		if e.ok[i] && hasAllKeys(n.labels, keys) {
			seen[n.labels[key]] = struct{}{}
		}
	}
	e.domains[ck] = len(seen)
	return len(seen)
}

func (e *eligibility) counts(n *nodeInfo, keys []string) bool {
	return n.idx >= 0 && n.idx < len(e.ok) && e.ok[n.idx] && hasAllKeys(n.labels, keys)
}

func hasAllKeys(l map[string]string, keys []string) bool {
	for _, k := range keys {
		if _, ok := l[k]; !ok {
			return false
		}
	}
	return true
}

// requiredAffinityKey names a pod's nodeSelector and required node affinity,
// so pods that select the same nodes share derived state.
func requiredAffinityKey(pod *corev1.Pod) string {
	var req *corev1.NodeSelector
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		req = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	b, _ := json.Marshal(struct {
		S map[string]string    `json:"s,omitempty"`
		R *corev1.NodeSelector `json:"r,omitempty"`
	}{pod.Spec.NodeSelector, req})
	return string(b)
}
