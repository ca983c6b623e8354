// Package job runs Jobs' pods to completion: parallelism and completions,
// failures counted against backoffLimit with a growing delay between
// retries, activeDeadlineSeconds, the Complete/Failed conditions (after
// SuccessCriteriaMet/FailureTarget as Kubernetes sets them now) and
// ttlSecondsAfterFinished. Pods carry the job-tracking finalizer so a pod
// deleted before it is counted is still counted.
package job

import (
	"context"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/kube"
)

var gvk = batchv1.SchemeGroupVersion.WithKind("Job")

// Labels and finalizer on a Job's pods, as Kubernetes names them.
const (
	JobNameLabel       = batchv1.JobNameLabel       // batch.kubernetes.io/job-name
	ControllerUIDLabel = batchv1.ControllerUidLabel // batch.kubernetes.io/controller-uid
	legacyJobName      = "job-name"
	legacyUID          = "controller-uid"
	TrackingFinalizer  = batchv1.JobTrackingFinalizer // batch.kubernetes.io/job-tracking
)

// Config sets the retry backoff; zero takes the default.
type Config struct {
	// BackoffBase is the delay before recreating after the first failure,
	// doubling per failure up to six minutes (10s).
	BackoffBase time.Duration
}

// Controller is the Job controller.
type Controller struct {
	client   kube.Interface
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	loop     *ctrlutil.Loop
	exp      *ctrlutil.Expectations
	recorder record.EventRecorder
	cfg      Config
	now      func() time.Time

	mu       sync.Mutex
	lastFail map[types.UID]time.Time
	// removed holds pods whose tracking finalizer this controller removed
	// (so they are counted) until the cache shows it gone; a sync on the
	// older pod would count them again.
	removed map[types.UID]bool
	// written holds the resourceVersion of each Job's last status write
	// until the cache shows it: a sync on an older status would miss the
	// counts it holds and start pods already done.
	written map[string]writtenStatus
}

type writtenStatus struct {
	rv string
	at time.Time
}

// New wires the controller to the factory's Job and Pod informers.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 10 * time.Second
	}
	jInf := factory.Jobs()
	pInf := factory.Pods()
	c := &Controller{
		client: client, recorder: recorder, cfg: cfg, now: time.Now,
		jobs: jInf.Lister(), pods: pInf.Lister(),
		synced:   []cache.InformerSynced{jInf.Informer().HasSynced, pInf.Informer().HasSynced},
		exp:      ctrlutil.NewExpectations(),
		lastFail: map[types.UID]time.Time{},
		removed:  map[types.UID]bool{},
		written:  map[string]writtenStatus{},
	}
	c.loop = ctrlutil.NewLoop("job", c.sync)
	jInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.Enqueue,
		UpdateFunc: func(_, n interface{}) {
			c.statusSeen(n.(*batchv1.Job))
			c.loop.Enqueue(n)
		},
		DeleteFunc: c.loop.Enqueue,
	})
	pInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o interface{}) {
			p := o.(*corev1.Pod)
			if j := c.owner(p); j != nil {
				key, _ := cache.MetaNamespaceKeyFunc(j)
				c.exp.CreationObserved(key)
				c.loop.Enqueue(j)
			}
		},
		UpdateFunc: func(_, n interface{}) { c.podChanged(n.(*corev1.Pod)) },
		DeleteFunc: func(o interface{}) {
			if p, ok := kube.Deleted[*corev1.Pod](o); ok {
				c.mu.Lock()
				delete(c.removed, p.UID)
				c.mu.Unlock()
				c.podChanged(p)
			}
		},
	})
	return c
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) owner(p *corev1.Pod) *batchv1.Job {
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != gvk.Kind {
		return nil
	}
	j, err := c.jobs.Jobs(p.Namespace).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return nil
	}
	return j
}

// podChanged requeues the owner; a pod whose Job is gone still loses the
// tracking finalizer so it can be deleted.
func (c *Controller) podChanged(p *corev1.Pod) {
	if !hasTracking(p) {
		c.mu.Lock()
		delete(c.removed, p.UID)
		c.mu.Unlock()
	}
	j := c.owner(p)
	if j == nil {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == gvk.Kind && hasTracking(p) {
			if _, err := c.jobs.Jobs(p.Namespace).Get(ref.Name); apierrors.IsNotFound(err) {
				go func() { _ = c.removeTracking(context.Background(), p) }()
			}
		}
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(j)
	if p.DeletionTimestamp != nil || !ctrlutil.IsPodActive(p) {
		podKey, _ := cache.MetaNamespaceKeyFunc(p)
		c.exp.DeletionObserved(key, podKey)
	}
	c.loop.Enqueue(j)
}

func hasTracking(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == TrackingFinalizer {
			return true
		}
	}
	return false
}

func (c *Controller) removeTracking(ctx context.Context, p *corev1.Pod) error {
	patch := []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + TrackingFinalizer + `"]}}`)
	np, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Remember it unless the cache already caught up (its event came).
	c.mu.Lock()
	if !hasTracking(np) {
		c.removed[p.UID] = true
	}
	c.mu.Unlock()
	return nil
}

// finalizerRemoved: the tracking finalizer is gone though the cache may
// not show it yet.
func (c *Controller) finalizerRemoved(p *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removed[p.UID]
}

func (c *Controller) statusSeen(j *batchv1.Job) {
	key, _ := cache.MetaNamespaceKeyFunc(j)
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.written[key]; ok && w.rv == j.ResourceVersion {
		delete(c.written, key)
	}
}

// statusBehind reports whether the cache has yet to show this controller's
// last status write for the Job (given up on after a while, should another
// writer have moved it on meanwhile).
func (c *Controller) statusBehind(key string, j *batchv1.Job) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.written[key]
	if !ok {
		return false
	}
	if w.rv == j.ResourceVersion || c.now().Sub(w.at) > 10*time.Second {
		delete(c.written, key)
		return false
	}
	return true
}
