package daemonset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
)

func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	st := *ds.Status.DeepCopy()
	st.DesiredNumberScheduled, st.CurrentNumberScheduled, st.NumberMisscheduled = 0, 0, 0
	st.NumberReady, st.NumberAvailable, st.UpdatedNumberScheduled, st.NumberUnavailable = 0, 0, 0, 0
	now := c.now()
	for _, n := range nodes {
		run, _ := placement(ds, n)
		var p *corev1.Pod
		for _, x := range byNode[n.Name] {
			if x.Status.Phase != corev1.PodFailed {
				p = x
				break
			}
		}
		if !run {
			if p != nil {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if p == nil {
			continue
		}
		st.CurrentNumberScheduled++
		if ctrlutil.IsPodReady(p) {
			st.NumberReady++
		}
		if ctrlutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) {
			st.NumberAvailable++
		}
		if p.Labels[RevisionLabel] == hash {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = max(st.DesiredNumberScheduled-st.NumberAvailable, 0)
	st.ObservedGeneration = ds.Generation
	if apiequality.Semantic.DeepEqual(st, ds.Status) {
		return nil
	}
	n := ds.DeepCopy()
	n.Status = st
	if _, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of daemon set %s: %w", ds.Name, err)
	}
	return nil
}
