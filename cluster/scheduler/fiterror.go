package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// FitError says why a pod fits on no node, grouped by reason as
// kube-scheduler reports it in FailedScheduling events.
type FitError struct {
	Pod         *corev1.Pod
	NumAllNodes int
	// NodeReasons are each node's reasons from the first filter it failed.
	NodeReasons map[string][]string
	// PostFilterMsg is preemption's own account when it found nothing to do.
	PostFilterMsg string
	// Preemption, when set, names the node the pod could go to once the
	// victims are gone.
	Preemption *Preemption
}

// Preemption is a decision to evict lower-priority pods for a pod.
type Preemption struct {
	NodeName string
	Victims  []*corev1.Pod
}

// Error renders "0/5 nodes are available: 2 Insufficient cpu, 3 node(s)
// didn't match Pod's node affinity/selector. preemption: ...".
func (f *FitError) Error() string {
	msg := histogramMessage(f.NumAllNodes, f.NodeReasons)
	if f.PostFilterMsg != "" {
		msg += " " + f.PostFilterMsg
	}
	return msg
}

// histogramMessage counts nodes per reason and sorts the "N reason" strings,
// as kube-scheduler does.
func histogramMessage(all int, nodeReasons map[string][]string) string {
	counts := map[string]int{}
	for _, rs := range nodeReasons {
		for _, r := range rs {
			counts[r]++
		}
	}
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available:", all)
	if len(parts) > 0 {
		msg += " " + strings.Join(parts, ", ") + "."
	}
	return msg
}

func (s *Scheduler) fitError(cy *cycle) *FitError {
	nodes := s.cache.nodes
	fe := &FitError{Pod: cy.pod, NumAllNodes: len(nodes), NodeReasons: make(map[string][]string, len(nodes))}
	for i, n := range nodes {
		fe.NodeReasons[n.name] = s.statuses[i].reasons
	}
	return fe
}
