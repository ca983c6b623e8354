package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/drover/drover/cluster/scheduler"
)

// checkPlacements verifies, independently of the scheduler's own indexes,
// that no node is over capacity, nodeSelectors and taints are honoured, no
// two pods of an anti-affine app share a host, and zone spreads are within
// their skew.
func checkPlacements(t *testing.T, c *scheduler.Cache, nodes []*corev1.Node) {
	t.Helper()
	byName := map[string]*corev1.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	spread := map[string]map[string]int{} // app -> zone -> pods
	for _, n := range nodes {
		var cpu, mem resource.Quantity
		seen := map[string]bool{}
		for _, p := range c.PodsOn(n.Name) {
			r := p.Spec.Containers[0].Resources.Requests
			cpu.Add(r[corev1.ResourceCPU])
			mem.Add(r[corev1.ResourceMemory])
			for k, v := range p.Spec.NodeSelector {
				if n.Labels[k] != v {
					t.Errorf("%s on %s: nodeSelector %s=%s not met", p.Name, n.Name, k, v)
				}
			}
			for _, taint := range n.Spec.Taints {
				if taint.Effect != corev1.TaintEffectNoSchedule {
					continue
				}
				ok := false
				for _, tol := range p.Spec.Tolerations {
					ok = ok || tol.Key == taint.Key && tol.Value == taint.Value
				}
				if !ok {
					t.Errorf("%s on %s: taint %s not tolerated", p.Name, n.Name, taint.Key)
				}
			}
			app := p.Labels["app"]
			if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
				if seen[app] {
					t.Errorf("two pods of %s on %s despite anti-affinity", app, n.Name)
				}
				seen[app] = true
			}
			if len(p.Spec.TopologySpreadConstraints) > 0 {
				if spread[app] == nil {
					spread[app] = map[string]int{}
				}
				spread[app][n.Labels[zoneKey]]++
			}
		}
		if cpu.Cmp(n.Status.Allocatable[corev1.ResourceCPU]) > 0 || mem.Cmp(n.Status.Allocatable[corev1.ResourceMemory]) > 0 {
			t.Errorf("%s over capacity: cpu %s mem %s", n.Name, cpu.String(), mem.String())
		}
	}
	for app, zones := range spread {
		lo, hi := 1<<30, 0
		for _, z := range []string{"zone-a", "zone-b", "zone-c"} {
			lo, hi = min(lo, zones[z]), max(hi, zones[z])
		}
		if hi-lo > 1 {
			t.Errorf("%s spread over zones %v, skew above 1", app, zones)
		}
	}
}
