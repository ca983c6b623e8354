package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// setCondition sets PodScheduled=False with the reason and message, and
// returns the updated pod.
func (l *loop) setCondition(ctx context.Context, pod *corev1.Pod, reason, msg string) (*corev1.Pod, error) {
	return l.updateStatus(ctx, pod, func(p *corev1.Pod) bool {
		for i := range p.Status.Conditions {
			c := &p.Status.Conditions[i]
			if c.Type != corev1.PodScheduled {
				continue
			}
			if c.Status == corev1.ConditionFalse && c.Reason == reason && c.Message == msg {
				return false
			}
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, reason, msg
			c.LastTransitionTime = metav1.Now()
			return true
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg,
			LastTransitionTime: metav1.Now(),
		})
		return true
	})
}

// updateStatus applies change to the newest pod and writes its status,
// retrying on conflicts.
func (l *loop) updateStatus(ctx context.Context, pod *corev1.Pod, change func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var out *corev1.Pod
	cur := pod.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !change(cur) {
			out = cur
			return nil
		}
		updated, err := l.client.CoreV1().Pods(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			out = updated
			return nil
		}
		if fresh, gerr := l.client.CoreV1().Pods(cur.Namespace).Get(ctx, cur.Name, metav1.GetOptions{}); gerr == nil {
			cur = fresh
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update status of pod %s: %w", PodKey(pod), err)
	}
	return out, nil
}

// preempt nominates the node for the pod and evicts the victims with their
// grace period. It returns the pod as updated.
func (l *loop) preempt(ctx context.Context, pod *corev1.Pod, p *Preemption) *corev1.Pod {
	updated, _ := l.updateStatus(ctx, pod, func(cur *corev1.Pod) bool {
		if cur.Status.NominatedNodeName == p.NodeName {
			return false
		}
		cur.Status.NominatedNodeName = p.NodeName
		return true
	})
	by := string(pod.UID)
	if by == "" {
		by = PodKey(pod)
	}
	for _, v := range p.Victims {
		msg := fmt.Sprintf("Preempted by pod %s on node %s", by, p.NodeName)
		// The condition tells the victim's owners why it went.
		_, _ = l.updateStatus(ctx, v, func(cur *corev1.Pod) bool {
			for _, c := range cur.Status.Conditions {
				if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
					return false
				}
			}
			cur.Status.Conditions = append(cur.Status.Conditions, corev1.PodCondition{
				Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: corev1.PodReasonPreemptionByScheduler,
				Message: DefaultSchedulerName + ": " + msg, LastTransitionTime: metav1.Now(),
			})
			return true
		})
		l.events.record(ctx, v, corev1.EventTypeNormal, "Preempted", "Preempting", msg)
		opts := metav1.DeleteOptions{GracePeriodSeconds: v.Spec.TerminationGracePeriodSeconds}
		if v.UID != "" {
			opts.Preconditions = &metav1.Preconditions{UID: &v.UID}
		}
		// A victim already gone is fine; others are retried on the next attempt.
		_ = l.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, opts)
	}
	return updated
}
