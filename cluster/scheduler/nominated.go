package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// SetNominated records that a pending pod was nominated to a node by a
// preemption, so pods of lower priority leave it the room it freed. An
// empty nodeName clears the nomination.
func (c *Cache) SetNominated(pod *corev1.Pod, nodeName string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := PodKey(pod)
	if old := c.nominated[key]; old != nil {
		if n := c.byName[old.nominatedTo]; n != nil {
			for i, p := range n.nominated {
				if p == old {
					n.nominated = append(n.nominated[:i], n.nominated[i+1:]...)
					break
				}
			}
		}
		delete(c.nominated, key)
	}
	if nodeName == "" {
		return
	}
	n := c.byName[nodeName]
	if n == nil {
		return
	}
	p := newPodInfo(pod)
	p.nominatedTo = nodeName
	c.nominated[key] = p
	n.nominated = append(n.nominated, p)
}

// nominatedRoom is what pods nominated to n that matter to the pod being
// scheduled (those of higher or equal priority) take: requests and count.
func (cy *cycle) nominatedRoom(n *nodeInfo) (r resources, count int64) {
	for _, p := range n.nominated {
		if p.key == cy.pi.key || p.priority < cy.pi.priority {
			continue
		}
		r.add(&p.req)
		count++
	}
	return r, count
}
