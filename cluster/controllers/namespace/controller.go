// Package namespace empties namespaces being deleted: once a namespace has
// a deletionTimestamp it deletes everything in it, waits until nothing is
// left, then removes the "kubernetes" finalizer through namespaces/finalize
// so the API server can delete the namespace itself.
package namespace

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/kube"
)

// recheck is how soon to look again while content remains (pods stopping
// within their grace period).
const recheck = time.Second

// Controller is the namespace controller.
type Controller struct {
	client kube.Interface
	nsList corelisters.NamespaceLister
	synced cache.InformerSynced
	loop   *ctrlutil.Loop
}

// New wires the controller to the factory's Namespace informer.
func New(client kube.Interface, factory *kube.InformerFactory) *Controller {
	inf := factory.Namespaces()
	c := &Controller{client: client, nsList: inf.Lister(), synced: inf.Informer().HasSynced}
	c.loop = ctrlutil.NewLoop("namespace", c.sync)
	inf.Informer().AddEventHandler(c.loop.Handlers())
	return c
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced) }

func isNotFound(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, err := c.nsList.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !hasFinalizer(ns) {
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		n := ns.DeepCopy()
		n.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("mark namespace %s terminating: %w", key, err)
		}
	}
	cols := typed(c.client, ns.Name)
	known := map[string]bool{}
	for _, col := range cols {
		known[col.name] = true
	}
	cols = append(cols, discovered(ctx, c.client, ns.Name, known)...)
	var left []string
	for _, col := range cols {
		n, err := col.purge(ctx, ns.Name)
		if err != nil {
			if isNotFound(err) {
				continue // a resource this API server does not serve
			}
			return fmt.Errorf("empty namespace %s: %w", ns.Name, err)
		}
		if n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, col.name))
		}
	}
	if len(left) > 0 {
		klog.V(2).InfoS("namespace still has content", "namespace", ns.Name, "left", strings.Join(left, ", "))
		c.loop.Queue.AddAfter(key, recheck)
		return nil
	}
	n := ns.DeepCopy()
	n.Spec.Finalizers = nil
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			n.Spec.Finalizers = append(n.Spec.Finalizers, f)
		}
	}
	if _, err := c.client.CoreV1().Namespaces().Finalize(ctx, n, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalize namespace %s: %w", ns.Name, err)
	}
	return nil
}

func hasFinalizer(ns *corev1.Namespace) bool {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}
