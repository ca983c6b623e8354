// Package deployment rolls Deployments out through one ReplicaSet per pod
// template: rolling updates bounded by maxSurge/maxUnavailable, Recreate,
// revisions, history cleanup, pause, and the status and conditions that
// kubectl rollout status reads.
package deployment

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/kube"
)

var (
	gvk   = appsv1.SchemeGroupVersion.WithKind("Deployment")
	rsGVK = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// Controller is the Deployment controller.
type Controller struct {
	client   kube.Interface
	dList    appslisters.DeploymentLister
	rsList   appslisters.ReplicaSetLister
	podList  corelisters.PodLister
	synced   []cache.InformerSynced
	loop     *ctrlutil.Loop
	recorder record.EventRecorder
	now      func() time.Time

	// written holds the replicas this controller last wrote to each
	// ReplicaSet until its cache shows them: deciding from an older spec
	// would scale twice.
	mu      sync.Mutex
	written map[types.UID]writtenScale
}

type writtenScale struct {
	replicas int32
	at       time.Time
}

// writeExpiry bounds the wait for a write to show in the cache (someone
// else may have changed the spec since).
const writeExpiry = 30 * time.Second

// New wires the controller to the factory's Deployment, ReplicaSet and Pod
// informers.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder) *Controller {
	dInf := factory.Deployments()
	rsInf := factory.ReplicaSets()
	podInf := factory.Pods()
	c := &Controller{
		client: client, recorder: recorder, now: time.Now, written: map[types.UID]writtenScale{},
		dList: dInf.Lister(), rsList: rsInf.Lister(), podList: podInf.Lister(),
		synced: []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
	}
	c.loop = ctrlutil.NewLoop("deployment", c.sync)
	dInf.Informer().AddEventHandler(c.loop.Handlers())
	rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.rsChanged,
		UpdateFunc: func(o, n interface{}) { c.rsChanged(o); c.rsChanged(n) },
		DeleteFunc: c.rsChanged,
	})
	// Recreate waits for the old pods to be gone.
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.podDeleted})
	return c
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) rsChanged(obj interface{}) {
	rs, ok := kube.Deleted[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.owner(rs.Namespace, ref); d != nil {
			c.loop.Enqueue(d)
		}
		return
	}
	// An orphan: the Deployments that may adopt it.
	ds, _ := c.dList.Deployments(rs.Namespace).List(labels.Everything())
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			c.loop.Enqueue(d)
		}
	}
}

func (c *Controller) owner(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != gvk.Kind {
		return nil
	}
	d, err := c.dList.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

func (c *Controller) podDeleted(obj interface{}) {
	p, ok := kube.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != rsGVK.Kind {
		return
	}
	rs, err := c.rsList.ReplicaSets(p.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d := c.owner(rs.Namespace, metav1.GetControllerOf(rs)); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.loop.Enqueue(d)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dList.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		// An empty selector would select every pod; only report status.
		return nil
	}
	rss, err := c.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return err
	}
	if wait := c.cacheBehind(rss); wait > 0 {
		// The ReplicaSet's update event requeues this; the timer covers
		// an expectation that will never be met.
		c.loop.EnqueueAfter(d, wait)
		return nil
	}
	if d.DeletionTimestamp != nil {
		return c.syncStatusOnly(ctx, d, rss)
	}
	if err := c.checkPaused(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.syncPaused(ctx, d, rss)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return c.rolloutRecreate(ctx, d, rss)
	}
	return c.rolloutRolling(ctx, d, rss)
}

func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsList.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	objs := make([]metav1.Object, len(all))
	for i, rs := range all {
		objs[i] = rs
	}
	cl := &ctrlutil.Claimer{
		Client: c.client, Owner: d, GVK: gvk, Selector: sel,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, o metav1.Object, patch []byte) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(o.GetNamespace()).Patch(ctx, o.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
		},
	}
	owned, err := cl.Claim(ctx, objs)
	out := make([]*appsv1.ReplicaSet, len(owned))
	for i, o := range owned {
		out[i] = o.(*appsv1.ReplicaSet)
	}
	if err != nil {
		return nil, fmt.Errorf("deployment %s: %w", d.Name, err)
	}
	return out, nil
}

// cacheBehind reports how long to wait when a ReplicaSet in the cache does
// not show the replicas last written to it yet, 0 when all do.
func (c *Controller) cacheBehind(rss []*appsv1.ReplicaSet) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var wait time.Duration
	for _, rs := range rss {
		w, ok := c.written[rs.UID]
		if !ok {
			continue
		}
		left := w.at.Add(writeExpiry).Sub(now)
		if replicas(rs.Spec.Replicas) == w.replicas || left <= 0 {
			delete(c.written, rs.UID)
			continue
		}
		wait = max(wait, left)
	}
	return wait
}

// scale sets a ReplicaSet's replicas (and the annotations recording the
// Deployment's size and bound), with the ScalingReplicaSet event.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, to int32) (*appsv1.ReplicaSet, error) {
	from := replicas(rs.Spec.Replicas)
	surge, _ := surgeAndUnavailable(d)
	desired := fmt.Sprint(replicas(d.Spec.Replicas))
	max := fmt.Sprint(replicas(d.Spec.Replicas) + surge)
	if from == to && rs.Annotations[DesiredReplicasAnnotation] == desired && rs.Annotations[MaxReplicasAnnotation] == max {
		return rs, nil
	}
	n := rs.DeepCopy()
	n.Spec.Replicas = &to
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[DesiredReplicasAnnotation] = desired
	n.Annotations[MaxReplicasAnnotation] = max
	out, err := c.client.AppsV1().ReplicaSets(n.Namespace).Update(ctx, n, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("scale replica set %s to %d: %w", rs.Name, to, err)
	}
	c.mu.Lock()
	c.written[rs.UID] = writtenScale{replicas: to, at: c.now()}
	c.mu.Unlock()
	if from != to {
		dir := "up"
		if to < from {
			dir = "down"
		}
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, to)
	}
	return out, nil
}
