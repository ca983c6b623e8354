package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// terminate stops the pod's containers within its grace period, removes the engine pod
// and the pod's directory, then deletes the API object (unless it is gone already).
// It reports whether the worker is done; it is not when a step failed and must be tried
// again (the engine or the API unreachable).
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod, gone bool) bool {
	a := w.a
	grace := 30 * time.Second
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	podID := ""
	if p, err := a.cfg.Engine.PodInspect(ctx, enginePodName(pod)); err == nil {
		podID = p.ID
	} else if !isNotFound(err) {
		a.log.Warn("terminate pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return false
	}
	stopCtx, cancel := context.WithTimeout(ctx, grace+30*time.Second)
	defer cancel()
	if err := removeEnginePod(stopCtx, a.cfg.Engine, podID, string(pod.UID), grace); err != nil {
		a.log.Warn("terminate pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return false
	}
	if err := a.removePodDir(string(pod.UID)); err != nil {
		a.log.Warn("terminate pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	if !gone {
		err := a.cfg.API.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			// The containers are gone; the API object goes when the servers answer.
			a.log.Warn("delete pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return false
		}
	}
	a.log.Info("pod removed", "pod", pod.Namespace+"/"+pod.Name)
	return true
}
