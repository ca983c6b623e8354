package scheduler

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// Cache holds the nodes and the pods placed on them (bound or assumed), with
// the indexes the filters need kept up to date on every change, so that
// scheduling a pod never walks all pods.
type Cache struct {
	mu sync.Mutex

	nodes  []*nodeInfo // nodes with an object, in a stable order
	byName map[string]*nodeInfo
	pods   map[string]*podInfo
	// nodeGen changes whenever a node's labels, taints or presence change;
	// caches derived from node labels check it.
	nodeGen uint64

	nsLabels map[string]map[string]string

	// posting lists of pods by label, to seed a new counter without a scan.
	posting map[labelKV]map[*podInfo]struct{}

	counters       map[string]*matchCounter
	counterBuckets map[labelKV][]*matchCounter
	counterAny     []*matchCounter

	// groups of identical affinity terms carried by placed pods.
	groups      map[string]*termGroup
	antiGroups  map[*termGroup]struct{} // required anti-affinity
	scoreGroups map[*termGroup]struct{} // preferred terms and required affinity

	// nominated are pending pods a preemption made room for.
	nominated map[string]*podInfo

	elig  map[string]*eligibility
	memos map[string]*nodeMemo
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{
		byName:         map[string]*nodeInfo{},
		pods:           map[string]*podInfo{},
		nsLabels:       map[string]map[string]string{},
		posting:        map[labelKV]map[*podInfo]struct{}{},
		counters:       map[string]*matchCounter{},
		counterBuckets: map[labelKV][]*matchCounter{},
		groups:         map[string]*termGroup{},
		antiGroups:     map[*termGroup]struct{}{},
		scoreGroups:    map[*termGroup]struct{}{},
		elig:           map[string]*eligibility{},
		memos:          map[string]*nodeMemo{},
		nominated:      map[string]*podInfo{},
	}
}

// AddNode adds a node or replaces the object of a known one.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.byName[node.Name]
	if n == nil {
		n = &nodeInfo{name: node.Name, idx: -1}
		c.byName[node.Name] = n
	}
	if n.idx < 0 {
		n.idx = len(c.nodes)
		c.nodes = append(c.nodes, n)
		c.nodeGen++
	} else if labelsOrTaintsChanged(n.node, node) {
		c.nodeGen++
	}
	n.setNode(node)
}

// labelsOrTaintsChanged tells whether derived per-node caches go stale; the
// frequent status-only updates leave them be.
func labelsOrTaintsChanged(old, cur *corev1.Node) bool {
	if old == nil || old.Spec.Unschedulable != cur.Spec.Unschedulable || len(old.Labels) != len(cur.Labels) || len(old.Spec.Taints) != len(cur.Spec.Taints) {
		return true
	}
	for k, v := range cur.Labels {
		if ov, ok := old.Labels[k]; !ok || ov != v {
			return true
		}
	}
	for i := range cur.Spec.Taints {
		if !old.Spec.Taints[i].MatchTaint(&cur.Spec.Taints[i]) || old.Spec.Taints[i].Value != cur.Spec.Taints[i].Value {
			return true
		}
	}
	return false
}

// UpdateNode is AddNode: the newest object wins.
func (c *Cache) UpdateNode(node *corev1.Node) { c.AddNode(node) }

// RemoveNode drops a node. Pods still naming it stay counted until they are
// removed, as their deletion events follow.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.byName[name]
	if n == nil || n.idx < 0 {
		return
	}
	for _, p := range n.nominated {
		delete(c.nominated, p.key)
	}
	n.nominated = nil
	last := c.nodes[len(c.nodes)-1]
	c.nodes[n.idx] = last
	last.idx = n.idx
	c.nodes = c.nodes[:len(c.nodes)-1]
	n.idx, n.node, n.labels = -1, nil, nil
	n.unschedulable, n.hardTaints, n.softTaints = false, nil, nil
	n.alloc, n.allowedPods = resources{}, 0
	if len(n.pods) == 0 {
		delete(c.byName, name)
	}
	c.nodeGen++
}

// SetNamespace records a namespace's labels, for namespaceSelector in
// affinity terms.
func (c *Cache) SetNamespace(ns *corev1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nsLabels[ns.Name] = ns.Labels
}

// RemoveNamespace forgets a namespace's labels.
func (c *Cache) RemoveNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nsLabels, name)
}

// AddPod records a pod bound to a node (spec.nodeName set). A pod assumed
// earlier is confirmed by it.
func (c *Cache) AddPod(pod *corev1.Pod) {
	if pod.Spec.NodeName == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.pods[PodKey(pod)]; old != nil {
		c.removeLocked(old)
	}
	c.addLocked(newPodInfo(pod), pod.Spec.NodeName, false)
}

// UpdatePod replaces a placed pod's object (labels or requests may change).
func (c *Cache) UpdatePod(pod *corev1.Pod) { c.AddPod(pod) }

// RemovePod forgets a pod, bound or assumed.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.pods[PodKey(pod)]; old != nil {
		c.removeLocked(old)
	}
}

// AssumePod places a pod on a node before its binding is confirmed, so the
// next pod is scheduled against it.
func (c *Cache) AssumePod(pod *corev1.Pod, nodeName string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[PodKey(pod)]; ok {
		return fmt.Errorf("assume pod %s: already in the cache", PodKey(pod))
	}
	c.addLocked(newPodInfo(pod), nodeName, true)
	return nil
}

// ForgetPod undoes AssumePod after a failed binding. A pod already
// confirmed by its binding is left alone.
func (c *Cache) ForgetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pods[PodKey(pod)]; p != nil && p.assumed {
		c.removeLocked(p)
	}
}

// IsAssumed reports whether a pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pods[PodKey(pod)]
	return p != nil && p.assumed
}

// NodeNames lists the nodes with an object, in the cache's order.
func (c *Cache) NodeNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.name
	}
	return out
}

// PodsOn lists the pods placed on a node.
func (c *Cache) PodsOn(nodeName string) []*corev1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.byName[nodeName]
	if n == nil {
		return nil
	}
	out := make([]*corev1.Pod, len(n.pods))
	for i, p := range n.pods {
		out[i] = p.pod
	}
	return out
}

func (c *Cache) addLocked(p *podInfo, nodeName string, assumed bool) {
	n := c.byName[nodeName]
	if n == nil {
		n = &nodeInfo{name: nodeName, idx: -1}
		c.byName[nodeName] = n
	}
	p.assumed = assumed
	c.pods[p.key] = p
	n.addPod(p)
	for k, v := range p.labels {
		kv := labelKV{k, v}
		set := c.posting[kv]
		if set == nil {
			set = map[*podInfo]struct{}{}
			c.posting[kv] = set
		}
		set[p] = struct{}{}
	}
	c.countPod(p, n, 1)
	c.addGroups(p, n)
}

func (c *Cache) removeLocked(p *podInfo) {
	n := p.node
	delete(c.pods, p.key)
	for k, v := range p.labels {
		kv := labelKV{k, v}
		if set := c.posting[kv]; set != nil {
			delete(set, p)
			if len(set) == 0 {
				delete(c.posting, kv)
			}
		}
	}
	c.countPod(p, n, -1)
	c.removeGroups(p, n)
	n.removePod(p)
	if n.idx < 0 && len(n.pods) == 0 {
		delete(c.byName, n.name)
	}
}
