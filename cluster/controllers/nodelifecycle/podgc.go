package nodelifecycle

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
)

// collectOrphans force-deletes pods bound to nodes that no longer exist
// (confirmed with a live read, the cache may lag a new node): no agent is
// left to stop them or report on them, and their owners replace them.
func (c *Controller) collectOrphans(ctx context.Context, nodes []*corev1.Node) {
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	checked := map[string]bool{} // node name -> confirmed gone
	for _, p := range pods {
		node := p.Spec.NodeName
		if node == "" || known[node] {
			continue
		}
		gone, ok := checked[node]
		if !ok {
			_, err := c.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			gone = apierrors.IsNotFound(err)
			checked[node] = gone
		}
		if !gone {
			continue
		}
		zero := int64(0)
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			klog.V(2).InfoS("delete pod of a deleted node", "pod", klog.KObj(p), "node", node, "err", err)
		}
	}
}
