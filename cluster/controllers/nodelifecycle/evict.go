package nodelifecycle

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
)

// evict deletes the pods on NoExecute-tainted nodes whose time is up: the
// eviction delay after the taint for pods that do not tolerate it, or
// their shortest tolerationSeconds for pods that tolerate it for a while.
//
// The delete is forced (grace 0): the node is unreachable, so no agent
// would confirm a graceful stop and the pod would stay Terminating; forcing
// it lets the owner's replacement start elsewhere at once, where Kubernetes
// would wait for the pod garbage collector.
func (c *Controller) evict(ctx context.Context, now time.Time) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	tainted := map[string][]corev1.Taint{}
	for _, n := range nodes {
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoExecute {
				tainted[n.Name] = append(tainted[n.Name], t)
			}
		}
	}
	if len(tainted) == 0 {
		return
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range pods {
		taints := tainted[p.Spec.NodeName]
		if len(taints) == 0 || p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds != nil && *p.DeletionGracePeriodSeconds == 0 {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		at, ok := c.evictionTime(p, taints, now)
		if !ok || now.Before(at) {
			continue
		}
		zero := int64(0)
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &p.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			klog.V(2).InfoS("evict pod", "pod", klog.KObj(p), "err", err)
			continue
		}
		c.recorder.Eventf(p, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", p.Namespace, p.Name)
	}
}

// evictionTime is when p must leave a node with these NoExecute taints;
// false if it tolerates them all for good.
func (c *Controller) evictionTime(p *corev1.Pod, taints []corev1.Taint, now time.Time) (time.Time, bool) {
	var at time.Time
	found := false
	for _, t := range taints {
		added := c.added(p.Spec.NodeName, t, now)
		tol := tolerating(p.Spec.Tolerations, &t)
		if tol == nil {
			e := added.Add(c.cfg.EvictionDelay)
			if !found || e.Before(at) {
				at, found = e, true
			}
			continue
		}
		if tol.TolerationSeconds != nil {
			secs := *tol.TolerationSeconds
			if secs < 0 {
				secs = 0
			}
			e := added.Add(time.Duration(secs) * time.Second)
			if !found || e.Before(at) {
				at, found = e, true
			}
		}
	}
	return at, found
}

func (c *Controller) added(node string, t corev1.Taint, now time.Time) time.Time {
	if t.TimeAdded != nil {
		return t.TimeAdded.Time
	}
	key := node + "/" + t.Key
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, ok := c.taintSeen[key]; ok {
		return at
	}
	c.taintSeen[key] = now
	return now
}

// tolerating returns the toleration with the shortest time that tolerates
// t (nil tolerationSeconds counting as forever).
func tolerating(tols []corev1.Toleration, t *corev1.Taint) *corev1.Toleration {
	var best *corev1.Toleration
	for i := range tols {
		if !tols[i].ToleratesTaint(klog.Background(), t, false) {
			continue
		}
		if best == nil || best.TolerationSeconds == nil ||
			(tols[i].TolerationSeconds != nil && *tols[i].TolerationSeconds < *best.TolerationSeconds) {
			best = &tols[i]
		}
	}
	return best
}

// markPodsNotReady turns the Ready condition of the node's pods False, so
// Services stop sending them traffic while the node is silent.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if p.Spec.NodeName != node || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		np := p.DeepCopy()
		changed := false
		for i := range np.Status.Conditions {
			cond := &np.Status.Conditions[i]
			if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionFalse {
				cond.Status = corev1.ConditionFalse
				cond.Reason = "NodeNotReady"
				cond.LastTransitionTime = metav1.Now()
				changed = true
			}
		}
		if !changed {
			continue
		}
		if _, err := c.client.CoreV1().Pods(np.Namespace).UpdateStatus(ctx, np, metav1.UpdateOptions{}); err != nil {
			klog.V(2).InfoS("mark pod not ready", "pod", klog.KObj(p), "err", err)
		}
	}
}
