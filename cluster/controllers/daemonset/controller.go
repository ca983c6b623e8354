// Package daemonset runs one pod of each DaemonSet on every eligible node
// (node selector, required node affinity, taints against tolerations),
// pinned by node affinity for the scheduler to bind, and rolls template
// changes out node by node within maxUnavailable.
package daemonset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/kube"
)

var gvk = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Labels on daemon pods: the template revision they run, and the
// DaemonSet generation that made them (deprecated, still set by Kubernetes).
const (
	RevisionLabel   = appsv1.ControllerRevisionHashLabelKey // controller-revision-hash
	GenerationLabel = appsv1.DeprecatedTemplateGeneration   // pod-template-generation
)

// Controller is the DaemonSet controller.
type Controller struct {
	client   kube.Interface
	dsList   appslisters.DaemonSetLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	revs     appslisters.ControllerRevisionLister
	synced   []cache.InformerSynced
	loop     *ctrlutil.Loop
	exp      *ctrlutil.Expectations
	recorder record.EventRecorder
	now      func() time.Time
}

// New wires the controller to the factory's DaemonSet, Pod and Node
// informers.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder) *Controller {
	dInf := factory.DaemonSets()
	pInf := factory.Pods()
	nInf := factory.Nodes()
	rInf := factory.ControllerRevisions()
	c := &Controller{
		client: client, recorder: recorder, now: time.Now,
		dsList: dInf.Lister(), pods: pInf.Lister(), nodes: nInf.Lister(), revs: rInf.Lister(),
		synced: []cache.InformerSynced{dInf.Informer().HasSynced, pInf.Informer().HasSynced, nInf.Informer().HasSynced, rInf.Informer().HasSynced},
		exp:    ctrlutil.NewExpectations(),
	}
	c.loop = ctrlutil.NewLoop("daemonset", c.sync)
	dInf.Informer().AddEventHandler(c.loop.Handlers())
	pInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o interface{}) {
			p := o.(*corev1.Pod)
			if ds := c.owner(p); ds != nil {
				key, _ := cache.MetaNamespaceKeyFunc(ds)
				c.exp.CreationObserved(key)
				c.loop.Enqueue(ds)
			}
		},
		UpdateFunc: func(_, n interface{}) {
			p := n.(*corev1.Pod)
			if ds := c.owner(p); ds != nil {
				if p.DeletionTimestamp != nil {
					c.deletionObserved(ds, p)
				}
				c.loop.Enqueue(ds)
				if ds.Spec.MinReadySeconds > 0 && ctrlutil.IsPodReady(p) {
					c.loop.EnqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second/10)
				}
			}
		},
		DeleteFunc: func(o interface{}) {
			if p, ok := kube.Deleted[*corev1.Pod](o); ok {
				if ds := c.owner(p); ds != nil {
					c.deletionObserved(ds, p)
					c.loop.Enqueue(ds)
				}
			}
		},
	})
	// Any node change may change where daemons belong.
	nInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(interface{}) { c.enqueueAll() },
		UpdateFunc: func(interface{}, interface{}) { c.enqueueAll() },
		DeleteFunc: func(interface{}) { c.enqueueAll() },
	})
	return c
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) enqueueAll() {
	all, _ := c.dsList.List(labels.Everything())
	for _, ds := range all {
		c.loop.Enqueue(ds)
	}
}

func (c *Controller) deletionObserved(ds *appsv1.DaemonSet, p *corev1.Pod) {
	key, _ := cache.MetaNamespaceKeyFunc(ds)
	podKey, _ := cache.MetaNamespaceKeyFunc(p)
	c.exp.DeletionObserved(key, podKey)
}

func (c *Controller) owner(p *corev1.Pod) *appsv1.DaemonSet {
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != gvk.Kind {
		return nil
	}
	ds, err := c.dsList.DaemonSets(p.Namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dsList.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range all {
		// Failed daemon pods are deleted and replaced; keep them in view.
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded {
			active = append(active, p)
		}
	}
	cl := &ctrlutil.Claimer{Client: c.client, Owner: ds, GVK: gvk, Selector: sel,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	owned, err := cl.ClaimPods(ctx, active)
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range owned {
		byNode[targetNode(p)] = append(byNode[targetNode(p)], p)
	}
	hash := revisionHash(ds)
	inUse := map[string]bool{}
	for _, p := range owned {
		inUse[p.Labels[RevisionLabel]] = true
	}
	if ds.DeletionTimestamp == nil {
		if err := c.syncHistory(ctx, ds, hash, inUse); err != nil {
			return err
		}
	}
	var manageErr error
	if c.exp.Satisfied(key) && ds.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, key, ds, nodes, byNode, hash)
	}
	if err := c.updateStatus(ctx, ds, nodes, byNode, hash); err != nil {
		return err
	}
	return manageErr
}
