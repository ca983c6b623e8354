package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// rolloutRolling takes one step of a rolling update: grow the new
// ReplicaSet within maxSurge, else shrink old ones within maxUnavailable;
// each step's effect shows in the caches and triggers the next.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.newReplicaSet(ctx, d, rss, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)

	if want := replicas(d.Spec.Replicas); replicas(newRS.Spec.Replicas) != want {
		to := want
		if replicas(newRS.Spec.Replicas) < want {
			to = newReplicas(d, all, newRS)
		}
		if to != replicas(newRS.Spec.Replicas) {
			if newRS, err = c.scale(ctx, d, newRS, to); err != nil {
				return err
			}
			all[len(all)-1] = newRS
			return c.syncRolloutStatus(ctx, d, newRS, all)
		}
	}

	scaledDown, err := c.scaleDownOld(ctx, d, all, old, newRS)
	if err != nil {
		return err
	}
	if !scaledDown && complete(d, c.calculateStatus(d, newRS, all)) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, newRS, all)
}

// scaleDownOld shrinks old ReplicaSets as far as keeping
// replicas-maxUnavailable pods available allows: first their pods that are
// not available anyway, then available ones, oldest ReplicaSet first.
func (c *Controller) scaleDownOld(ctx context.Context, d *appsv1.Deployment, all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	if sumSpec(old) == 0 {
		return false, nil
	}
	_, maxUnavail := surgeAndUnavailable(d)
	minAvailable := replicas(d.Spec.Replicas) - maxUnavail
	newUnavailable := replicas(newRS.Spec.Replicas) - newRS.Status.AvailableReplicas
	budget := sumSpec(all) - minAvailable - newUnavailable
	if budget <= 0 {
		return false, nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	byCreation(sorted)
	scaled := false

	// Unhealthy pods of old ReplicaSets cost no availability.
	for i, rs := range sorted {
		if budget <= 0 {
			break
		}
		cur := replicas(rs.Spec.Replicas)
		unhealthy := cur - rs.Status.AvailableReplicas
		if cur == 0 || unhealthy <= 0 {
			continue
		}
		n := min(unhealthy, budget)
		nrs, err := c.scale(ctx, d, rs, cur-n)
		if err != nil {
			return scaled, err
		}
		sorted[i] = nrs
		budget -= n
		scaled = true
	}

	// Then available ones, down to the minimum available across all. A
	// ReplicaSet's pods beyond its spec are about to go (its status may
	// not show the last scale-down yet), so they do not count.
	var available int32
	for _, rs := range all {
		available += min(rs.Status.AvailableReplicas, replicas(rs.Spec.Replicas))
	}
	if available <= minAvailable {
		return scaled, nil
	}
	remove := available - minAvailable
	for _, rs := range sorted {
		if remove <= 0 {
			break
		}
		cur := replicas(rs.Spec.Replicas)
		if cur == 0 {
			continue
		}
		n := min(cur, remove)
		if _, err := c.scale(ctx, d, rs, cur-n); err != nil {
			return scaled, err
		}
		remove -= n
		scaled = true
	}
	return scaled, nil
}

// rolloutRecreate scales every old ReplicaSet to zero, waits until none of
// their pods is left running, then brings the new one up to full size.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.newReplicaSet(ctx, d, rss, false)
	if err != nil {
		return err
	}
	scaled := false
	for _, rs := range old {
		if replicas(rs.Spec.Replicas) != 0 {
			if _, err := c.scale(ctx, d, rs, 0); err != nil {
				return err
			}
			scaled = true
		}
	}
	if scaled || c.oldPodsRunning(old) {
		return c.syncRolloutStatus(ctx, d, newRS, append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	}
	if newRS == nil {
		if newRS, old, err = c.newReplicaSet(ctx, d, rss, true); err != nil {
			return err
		}
	}
	if newRS, err = c.scale(ctx, d, newRS, replicas(d.Spec.Replicas)); err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	if complete(d, c.calculateStatus(d, newRS, all)) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, newRS, all)
}

// oldPodsRunning: any pod of an old ReplicaSet not yet finished or gone
// (a terminating pod still runs).
func (c *Controller) oldPodsRunning(old []*appsv1.ReplicaSet) bool {
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true
		}
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil {
			continue
		}
		pods, _ := c.podList.Pods(rs.Namespace).List(sel)
		for _, p := range pods {
			ref := metav1.GetControllerOf(p)
			if ref == nil || ref.UID != rs.UID {
				continue
			}
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return true
			}
		}
	}
	return false
}

// syncPaused keeps a paused Deployment's size right without rolling out:
// no new ReplicaSet; a size change goes to the one active ReplicaSet.
func (c *Controller) syncPaused(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.newReplicaSet(ctx, d, rss, false)
	if err != nil {
		return err
	}
	var active []*appsv1.ReplicaSet
	for _, rs := range append(append([]*appsv1.ReplicaSet(nil), old...), newRS) {
		if rs != nil && replicas(rs.Spec.Replicas) > 0 {
			active = append(active, rs)
		}
	}
	target := newRS
	if len(active) == 1 {
		target = active[0]
	}
	if target != nil && (len(active) == 0 || len(active) == 1) {
		if _, err := c.scale(ctx, d, target, replicas(d.Spec.Replicas)); err != nil {
			return err
		}
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	return c.syncStatusOnlyWith(ctx, d, newRS, all)
}

func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old := split(d, rss)
	return c.syncStatusOnlyWith(ctx, d, newRS, append(old, newRS))
}

// selectorOf is used by tests and kubectl-like callers.
func selectorOf(d *appsv1.Deployment) labels.Selector {
	s, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	return s
}
