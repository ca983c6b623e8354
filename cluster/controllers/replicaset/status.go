package replicaset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
)

// Status computes what the ReplicaSet's status should say about its pods.
func Status(rs *appsv1.ReplicaSet, owned []*corev1.Pod, manageErr error, now time.Time) (appsv1.ReplicaSetStatus, time.Duration) {
	st := *rs.Status.DeepCopy()
	st.Replicas = int32(len(owned))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	tmpl := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var recheck time.Duration
	for _, p := range owned {
		if tmpl.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if ctrlutil.IsPodReady(p) {
			st.ReadyReplicas++
			if ctrlutil.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			} else if d := ctrlutil.UntilAvailable(p, rs.Spec.MinReadySeconds, now); d > 0 && (recheck == 0 || d < recheck) {
				recheck = d
			}
		}
	}
	st.ObservedGeneration = rs.Generation
	st.Conditions = setFailure(st.Conditions, manageErr, now)
	return st, recheck
}

// setFailure keeps a ReplicaFailure condition while creating or deleting
// pods fails, and drops it once that works again.
func setFailure(conds []appsv1.ReplicaSetCondition, err error, now time.Time) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != appsv1.ReplicaSetReplicaFailure {
			out = append(out, c)
		}
	}
	if err != nil {
		out = append(out, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: "FailedCreate", Message: err.Error(),
		})
	}
	return out
}

func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, owned []*corev1.Pod, manageErr error) error {
	st, recheck := Status(rs, owned, manageErr, c.now())
	if recheck > 0 {
		c.loop.EnqueueAfter(rs, recheck)
	}
	// Ignore the condition's timestamp when comparing, or every failed sync
	// would write.
	if sameStatus(rs.Status, st) {
		return nil
	}
	n := rs.DeepCopy()
	n.Status = st
	_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of replica set %s: %w", rs.Name, err)
	}
	return nil
}

func sameStatus(a, b appsv1.ReplicaSetStatus) bool {
	a, b = *a.DeepCopy(), *b.DeepCopy()
	for i := range a.Conditions {
		a.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	for i := range b.Conditions {
		b.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return apiequality.Semantic.DeepEqual(a, b)
}
