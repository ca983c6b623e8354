package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// nodeInfo is a node with the aggregates of the pods placed on it, updated in
// place as pods come and go.
type nodeInfo struct {
	name string
	// node is nil while only pods name the node (its object has not arrived).
	node   *corev1.Node
	idx    int // position in Cache.nodes; -1 while node is nil
	labels map[string]string

	alloc       resources
	allowedPods int64
	requested   resources
	nonZeroCPU  int64
	nonZeroMem  int64

	pods []*podInfo
	// nominated are pending pods preemption made room for here.
	nominated []*podInfo

	unschedulable bool
	hardTaints    []corev1.Taint // NoSchedule and NoExecute
	softTaints    []corev1.Taint // PreferNoSchedule
}

func (n *nodeInfo) setNode(node *corev1.Node) {
	n.node = node
	n.labels = node.Labels
	n.alloc = resourcesFromList(node.Status.Allocatable)
	n.allowedPods = node.Status.Allocatable.Pods().Value()
	n.unschedulable = node.Spec.Unschedulable
	n.hardTaints, n.softTaints = nil, nil
	for _, t := range node.Spec.Taints {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute:
			n.hardTaints = append(n.hardTaints, t)
		case corev1.TaintEffectPreferNoSchedule:
			n.softTaints = append(n.softTaints, t)
		}
	}
}

func (n *nodeInfo) addPod(p *podInfo) {
	p.node = n
	p.slot = len(n.pods)
	n.pods = append(n.pods, p)
	n.charge(p)
}

func (n *nodeInfo) removePod(p *podInfo) {
	last := n.pods[len(n.pods)-1]
	n.pods[p.slot] = last
	last.slot = p.slot
	n.pods[len(n.pods)-1] = nil
	n.pods = n.pods[:len(n.pods)-1]
	p.node = nil
	n.discharge(p)
}

// charge and discharge move only the aggregates; preemption uses them to try
// a node without its victims.
func (n *nodeInfo) charge(p *podInfo) {
	n.requested.add(&p.req)
	n.nonZeroCPU += p.nonZeroCPU
	n.nonZeroMem += p.nonZeroMem
}

func (n *nodeInfo) discharge(p *podInfo) {
	n.requested.sub(&p.req)
	n.nonZeroCPU -= p.nonZeroCPU
	n.nonZeroMem -= p.nonZeroMem
}
