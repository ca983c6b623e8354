package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The taints this controller owns, by node condition.
var owned = map[string]bool{
	corev1.TaintNodeUnreachable:   true,
	corev1.TaintNodeNotReady:      true,
	corev1.TaintNodeUnschedulable: true,
}

const (
	unknownReason  = "NodeStatusUnknown"
	unknownMessage = "Kubelet stopped posting node status."
)

// reconcileNode marks a silent node's conditions Unknown and keeps the
// condition taints in step with its Ready condition.
func (c *Controller) reconcileNode(ctx context.Context, n *corev1.Node, silent bool, now time.Time) error {
	if silent {
		rc := readyCondition(n)
		if rc == nil || rc.Status != corev1.ConditionUnknown {
			nn := n.DeepCopy()
			markUnknown(nn, now)
			updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, nn, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("mark node %s unknown: %w", n.Name, err)
			}
			c.markPodsNotReady(ctx, n.Name)
			n = updated
		}
	}
	st := corev1.ConditionUnknown
	if rc := readyCondition(n); rc != nil {
		st = rc.Status
	}
	if c.readyChanged(n.Name, st) {
		c.recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID}, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", n.Name)
	}
	want := wantTaints(n, now)
	if apiequality.Semantic.DeepEqual(want, n.Spec.Taints) || (len(want) == 0 && len(n.Spec.Taints) == 0) {
		return nil
	}
	nn := n.DeepCopy()
	nn.Spec.Taints = want
	if _, err := c.client.CoreV1().Nodes().Update(ctx, nn, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("taint node %s: %w", n.Name, err)
	}
	return nil
}

// markUnknown sets the node's kubelet-reported conditions Unknown, keeping
// their last heartbeat so it shows when the node was last heard from.
func markUnknown(n *corev1.Node, now time.Time) {
	seen := map[corev1.NodeConditionType]bool{}
	for i := range n.Status.Conditions {
		cond := &n.Status.Conditions[i]
		switch cond.Type {
		case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
			seen[cond.Type] = true
			if cond.Status != corev1.ConditionUnknown {
				cond.Status = corev1.ConditionUnknown
				cond.Reason = unknownReason
				cond.Message = unknownMessage
				cond.LastTransitionTime = metav1.NewTime(now)
			}
		}
	}
	if !seen[corev1.NodeReady] {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: unknownReason,
			Message: "Kubelet never posted node status.", LastTransitionTime: metav1.NewTime(now),
		})
	}
}

// wantTaints is the node's taints with the controller's own set to what
// its Ready condition and spec.unschedulable call for; taints already there
// keep their timeAdded.
func wantTaints(n *corev1.Node, now time.Time) []corev1.Taint {
	var desired []corev1.Taint
	if rc := readyCondition(n); rc != nil {
		switch rc.Status {
		case corev1.ConditionUnknown:
			desired = append(desired,
				corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
				corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule})
		case corev1.ConditionFalse:
			desired = append(desired,
				corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute},
				corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if n.Spec.Unschedulable {
		desired = append(desired, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if !owned[t.Key] {
			out = append(out, t)
		}
	}
	for _, d := range desired {
		found := false
		for _, t := range n.Spec.Taints {
			if t.Key == d.Key && t.Effect == d.Effect {
				out = append(out, t)
				found = true
				break
			}
		}
		if !found {
			if d.Effect == corev1.TaintEffectNoExecute {
				at := metav1.NewTime(now)
				d.TimeAdded = &at
			}
			out = append(out, d)
		}
	}
	return out
}
