package deployment

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as kube-controller-manager writes them (kubectl
// rollout status matches ProgressDeadlineExceeded).
const (
	NewRSCreatedReason       = "NewReplicaSetCreated"
	FoundNewRSReason         = "FoundNewReplicaSet"
	RSUpdatedReason          = "ReplicaSetUpdated"
	NewRSAvailableReason     = "NewReplicaSetAvailable"
	TimedOutReason           = "ProgressDeadlineExceeded"
	PausedReason             = "DeploymentPaused"
	ResumedReason            = "DeploymentResumed"
	MinimumAvailableReason   = "MinimumReplicasAvailable"
	MinimumUnavailableReason = "MinimumReplicasUnavailable"
)

func newCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

func getCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces the condition of its type; an unchanged status and
// reason keeps the old one (and its times).
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := getCondition(*st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

// calculateStatus sums the ReplicaSets' reports into the Deployment's.
func (c *Controller) calculateStatus(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) appsv1.DeploymentStatus {
	available := sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	want := replicas(d.Spec.Replicas)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }),
		ReadyReplicas:       sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.ReadyReplicas }),
		AvailableReplicas:   available,
		UnavailableReplicas: max(want-available, 0),
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...),
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	_, maxUnavail := surgeAndUnavailable(d)
	if available >= want-maxUnavail {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, MinimumAvailableReason, "Deployment has minimum availability.", c.now()))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, MinimumUnavailableReason, "Deployment does not have minimum availability.", c.now()))
	}
	return st
}

// complete: every replica updated and available, nothing old left.
func complete(d *appsv1.Deployment, st appsv1.DeploymentStatus) bool {
	want := replicas(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

// progressing: the rollout moved since the last status.
func progressing(d *appsv1.Deployment, st appsv1.DeploymentStatus) bool {
	old := d.Status
	oldOld := old.Replicas - old.UpdatedReplicas
	newOld := st.Replicas - st.UpdatedReplicas
	return st.UpdatedReplicas > old.UpdatedReplicas || newOld < oldOld || st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

func hasDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != int32(^uint32(0)>>1)
}

// syncRolloutStatus writes status with the Progressing condition advanced:
// NewReplicaSetAvailable once complete, ReplicaSetUpdated while moving, and
// ProgressDeadlineExceeded when nothing moved for progressDeadlineSeconds.
func (c *Controller) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) error {
	st := c.calculateStatus(d, newRS, all)
	now := c.now()
	if !hasDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	} else if newRS != nil {
		cur := getCondition(st, appsv1.DeploymentProgressing)
		done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == NewRSAvailableReason
		if !done {
			switch {
			case complete(d, st):
				setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewRSAvailableReason, fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name), now))
			case progressing(d, st):
				cond := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, RSUpdatedReason, fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name), now)
				if cur != nil && cur.Status == corev1.ConditionTrue {
					cond.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
				st.Conditions = append(st.Conditions, cond)
			case timedOut(d, st, now):
				setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, TimedOutReason, fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name), now))
			}
		}
	}
	// Come back when the deadline would pass, if nothing else happens.
	if hasDeadline(d) && !complete(d, st) {
		if cur := getCondition(st, appsv1.DeploymentProgressing); cur != nil && cur.Reason != TimedOutReason {
			left := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(now)
			c.loop.EnqueueAfter(d, max(left, 0)+time.Second)
		}
	}
	return c.writeStatus(ctx, d, st)
}

func timedOut(d *appsv1.Deployment, st appsv1.DeploymentStatus, now time.Time) bool {
	cur := getCondition(st, appsv1.DeploymentProgressing)
	if cur == nil {
		return false
	}
	if cur.Reason == NewRSAvailableReason {
		return false
	}
	if cur.Reason == TimedOutReason {
		return true
	}
	return cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}

func (c *Controller) syncStatusOnlyWith(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) error {
	return c.writeStatus(ctx, d, c.calculateStatus(d, newRS, all))
}

// checkPaused records pause and resume in the Progressing condition, which
// also restarts the deadline clock on resume.
func (c *Controller) checkPaused(ctx context.Context, d *appsv1.Deployment) error {
	if !hasDeadline(d) {
		return nil
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	pausedCond := cur != nil && cur.Reason == PausedReason
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, PausedReason, "Deployment is paused", c.now()))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ResumedReason, "Deployment is resumed", c.now()))
	default:
		return nil
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	cached, err := c.dList.Deployments(d.Namespace).Get(d.Name)
	if err == nil && apiequality.Semantic.DeepEqual(cached.Status, st) {
		return nil
	}
	n := d.DeepCopy()
	n.Status = st
	if _, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of deployment %s: %w", d.Name, err)
	}
	return nil
}
