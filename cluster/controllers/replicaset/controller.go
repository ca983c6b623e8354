// Package replicaset keeps each ReplicaSet's spec.replicas pods running:
// it adopts matching orphans, releases pods that stop matching, creates the
// missing ones and deletes the surplus, and reports what it sees in status.
package replicaset

import (
	"context"
	"fmt"
	"sort"
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

var gvk = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller is the ReplicaSet controller.
type Controller struct {
	client   kube.Interface
	rsList   appslisters.ReplicaSetLister
	podList  corelisters.PodLister
	synced   []cache.InformerSynced
	loop     *ctrlutil.Loop
	exp      *ctrlutil.Expectations
	recorder record.EventRecorder
	now      func() time.Time
}

// New wires the controller to the factory's ReplicaSet and Pod informers.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder) *Controller {
	rsInf := factory.ReplicaSets()
	podInf := factory.Pods()
	c := &Controller{
		client:   client,
		rsList:   rsInf.Lister(),
		podList:  podInf.Lister(),
		synced:   []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		exp:      ctrlutil.NewExpectations(),
		recorder: recorder,
		now:      time.Now,
	}
	c.loop = ctrlutil.NewLoop("replicaset", c.sync)
	rsInf.Informer().AddEventHandler(c.loop.Handlers())
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

// owner resolves the ReplicaSet a controller reference points at, checking
// the uid so a recreated namesake is not mistaken for it.
func (c *Controller) owner(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != gvk.Kind {
		return nil
	}
	rs, err := c.rsList.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// matching lists the ReplicaSets whose selector matches an orphan pod, the
// candidates to adopt it.
func (c *Controller) matching(p *corev1.Pod) []*appsv1.ReplicaSet {
	all, _ := c.rsList.ReplicaSets(p.Namespace).List(labels.Everything())
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, rs)
		}
	}
	return out
}

func (c *Controller) addPod(obj interface{}) {
	p := obj.(*corev1.Pod)
	if p.DeletionTimestamp != nil {
		c.deletePod(p)
		return
	}
	if rs := c.owner(p.Namespace, metav1.GetControllerOf(p)); rs != nil {
		key, _ := cache.MetaNamespaceKeyFunc(rs)
		c.exp.CreationObserved(key)
		c.loop.Enqueue(rs)
		return
	}
	if metav1.GetControllerOf(p) == nil {
		for _, rs := range c.matching(p) {
			c.loop.Enqueue(rs)
		}
	}
}

func (c *Controller) updatePod(old, cur interface{}) {
	op, np := old.(*corev1.Pod), cur.(*corev1.Pod)
	if op.ResourceVersion != "" && op.ResourceVersion == np.ResourceVersion {
		return // a resync, nothing changed
	}
	if np.DeletionTimestamp != nil {
		c.deletePod(np)
		if oldRS := c.owner(op.Namespace, metav1.GetControllerOf(op)); oldRS != nil {
			c.loop.Enqueue(oldRS)
		}
		return
	}
	oldRef, newRef := metav1.GetControllerOf(op), metav1.GetControllerOf(np)
	if oldRef != nil && (newRef == nil || oldRef.UID != newRef.UID) {
		if rs := c.owner(op.Namespace, oldRef); rs != nil {
			c.loop.Enqueue(rs)
		}
	}
	if rs := c.owner(np.Namespace, newRef); rs != nil {
		c.loop.Enqueue(rs)
		// A pod that just became ready turns available minReadySeconds later.
		if !ctrlutil.IsPodReady(op) && ctrlutil.IsPodReady(np) && rs.Spec.MinReadySeconds > 0 {
			c.loop.EnqueueAfter(rs, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if newRef == nil {
		for _, rs := range c.matching(np) {
			c.loop.Enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj interface{}) {
	p, ok := kube.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	rs := c.owner(p.Namespace, metav1.GetControllerOf(p))
	if rs == nil {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(rs)
	podKey, _ := cache.MetaNamespaceKeyFunc(p)
	c.exp.DeletionObserved(key, podKey)
	c.loop.Enqueue(rs)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.rsList.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		// An invalid or empty selector would claim every pod; do nothing.
		return nil
	}
	all, err := c.podList.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range all {
		if ctrlutil.IsPodActive(p) {
			active = append(active, p)
		}
	}
	claimer := &ctrlutil.Claimer{
		Client: c.client, Owner: rs, GVK: gvk, Selector: sel,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		},
	}
	owned, claimErr := claimer.ClaimPods(ctx, active)

	var manageErr error
	if claimErr == nil && c.exp.Satisfied(key) && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, key, rs, owned)
	}
	if err := c.updateStatus(ctx, rs, owned, manageErr); err != nil {
		return err
	}
	if claimErr != nil {
		return claimErr
	}
	return manageErr
}

// burstReplicas caps the creations or deletions of one sync, so a huge
// scale change goes through the cache a slice at a time.
const burstReplicas = 500

func (c *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, owned []*corev1.Pod) error {
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(owned) - int(want)
	switch {
	case diff < 0:
		n := -diff
		if n > burstReplicas {
			n = burstReplicas
		}
		c.exp.ExpectCreations(key, n)
		ref := ctrlutil.ControllerRef(rs, gvk)
		skipped, err := ctrlutil.SlowStartBatch(n, func() error {
			p := ctrlutil.PodFromTemplate(&rs.Spec.Template, rs.Namespace, rs.Name+"-", ref)
			np, err := ctrlutil.CreateWithRandomName(ctx, c.client, p)
			if err != nil {
				c.exp.CreationObserved(key)
				c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
				return err
			}
			c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", np.Name)
			return nil
		})
		// Creations never attempted after a failed batch are not coming.
		for i := 0; i < skipped; i++ {
			c.exp.CreationObserved(key)
		}
		if err != nil {
			return fmt.Errorf("scale up replica set %s: %w", rs.Name, err)
		}
	case diff > 0:
		if diff > burstReplicas {
			diff = burstReplicas
		}
		victims := PodsToDelete(owned, diff)
		var keys []string
		for _, p := range victims {
			k, _ := cache.MetaNamespaceKeyFunc(p)
			keys = append(keys, k)
		}
		c.exp.ExpectDeletions(key, keys)
		var firstErr error
		for i, p := range victims {
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				c.exp.DeletionObserved(key, keys[i])
				c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				if firstErr == nil {
					firstErr = fmt.Errorf("delete pod %s: %w", p.Name, err)
				}
				continue
			}
			if apierrors.IsNotFound(err) {
				c.exp.DeletionObserved(key, keys[i])
				continue
			}
			c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		}
		return firstErr
	}
	return nil
}

// PodsToDelete picks the n pods whose loss hurts least: unscheduled before
// scheduled, pending before running, not ready before ready, ready for a
// shorter time, more restarts, then newest.
func PodsToDelete(pods []*corev1.Pod, n int) []*corev1.Pod {
	s := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(s, func(i, j int) bool { return lessValuable(s[i], s[j]) })
	if n > len(s) {
		n = len(s)
	}
	return s[:n]
}

func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 3
}

func lessValuable(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if ra, rb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); ra != rb {
		return ra < rb
	}
	if ctrlutil.IsPodReady(a) != ctrlutil.IsPodReady(b) {
		return !ctrlutil.IsPodReady(a)
	}
	if ctrlutil.IsPodReady(a) {
		ta, tb := ctrlutil.PodReadyCondition(a).LastTransitionTime, ctrlutil.PodReadyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
	}
	if ca, cb := restarts(a), restarts(b); ca != cb {
		return ca > cb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}
