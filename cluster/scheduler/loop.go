package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover/drover/cluster/kube"
)

// DefaultSchedulerName is the schedulerName this scheduler answers for; pods
// with none set are also its own.
const DefaultSchedulerName = "default-scheduler"

// RunOptions configure the scheduling loop.
type RunOptions struct {
	Options
	// SchedulerName is the pods' spec.schedulerName to serve
	// (default-scheduler when empty).
	SchedulerName string
	// InitialBackoff and MaxBackoff bound the wait before retrying a pod
	// that failed (1s and 10s when zero).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// Run schedules pending pods until ctx ends. It must run only on the
// leader: two schedulers would bind the same pods.
func Run(ctx context.Context, client kube.Interface, opts RunOptions) error {
	l := newLoop(client, opts)
	return l.run(ctx)
}

type loop struct {
	client kube.Interface
	opts   RunOptions
	cache  *Cache
	alg    *Scheduler
	queue  *schedulingQueue
	events *recorder
	binds  sync.WaitGroup
}

func newLoop(client kube.Interface, opts RunOptions) *loop {
	if opts.SchedulerName == "" {
		opts.SchedulerName = DefaultSchedulerName
	}
	if opts.InitialBackoff == 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	c := NewCache()
	host, _ := os.Hostname()
	return &loop{
		client: client,
		opts:   opts,
		cache:  c,
		alg:    New(c, opts.Options),
		queue:  newSchedulingQueue(opts.InitialBackoff, opts.MaxBackoff),
		events: &recorder{client: client, component: opts.SchedulerName, instance: opts.SchedulerName + "-" + host},
	}
}

func (l *loop) run(ctx context.Context) error {
	factory := kube.NewInformerFactory(l.client, 0)
	nodes := factory.Nodes().Informer()
	pods := factory.Pods().Informer()
	namespaces := factory.Namespaces().Informer()
	if _, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.onNode(obj) },
		UpdateFunc: func(_, obj any) { l.onNode(obj) },
		DeleteFunc: l.onNodeDelete,
	}); err != nil {
		return fmt.Errorf("watch nodes: %w", err)
	}
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.onPod(nil, obj) },
		UpdateFunc: l.onPod,
		DeleteFunc: l.onPodDelete,
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	if _, err := namespaces.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.onNamespace(obj) },
		UpdateFunc: func(_, obj any) { l.onNamespace(obj) },
		DeleteFunc: func(obj any) {
			if ns, ok := kube.Deleted[*corev1.Namespace](obj); ok {
				l.cache.RemoveNamespace(ns.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("watch namespaces: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), nodes.HasSynced, pods.HasSynced, namespaces.HasSynced) {
		return ctx.Err()
	}

	go func() {
		<-ctx.Done()
		l.queue.close()
	}()
	go func() {
		t := time.NewTicker(l.opts.InitialBackoff / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l.queue.flush()
			}
		}
	}()
	for {
		qp, ok := l.queue.Pop(ctx)
		if !ok {
			break
		}
		l.scheduleOne(ctx, qp)
	}
	l.binds.Wait()
	return nil
}

func (l *loop) responsible(pod *corev1.Pod) bool {
	name := pod.Spec.SchedulerName
	return name == l.opts.SchedulerName || name == "" && l.opts.SchedulerName == DefaultSchedulerName
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func (l *loop) onNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	l.cache.UpdateNode(node)
	l.queue.MoveAll()
}

func (l *loop) onNodeDelete(obj any) {
	if node, ok := kube.Deleted[*corev1.Node](obj); ok {
		l.cache.RemoveNode(node.Name)
	}
}

func (l *loop) onNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		l.cache.SetNamespace(ns)
	}
}

func (l *loop) onPod(oldObj, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	switch {
	case pod.Spec.NodeName != "":
		l.queue.Delete(pod)
		l.cache.SetNominated(pod, "")
		if terminal(pod) {
			// A finished pod frees its room.
			l.cache.RemovePod(pod)
			l.queue.MoveAll()
			return
		}
		l.cache.UpdatePod(pod)
		if old, ok := oldObj.(*corev1.Pod); !ok || old.Spec.NodeName == "" || !equalLabels(old.Labels, pod.Labels) {
			// A newly placed pod or new labels can satisfy pod affinity.
			l.queue.MoveAll()
		}
	case l.responsible(pod) && !terminal(pod) && pod.DeletionTimestamp == nil:
		l.cache.SetNominated(pod, pod.Status.NominatedNodeName)
		l.queue.Add(pod)
	}
}

func (l *loop) onPodDelete(obj any) {
	pod, ok := kube.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	l.queue.Delete(pod)
	l.cache.SetNominated(pod, "")
	l.cache.RemovePod(pod)
	l.queue.MoveAll()
}

func equalLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// scheduleOne places one pod: decide, assume, bind in the background.
func (l *loop) scheduleOne(ctx context.Context, qp *queuedPod) {
	pod := l.queue.Pod(qp)
	if pod.DeletionTimestamp != nil || l.cache.IsAssumed(pod) {
		l.queue.Done(qp)
		return
	}
	node, err := l.alg.Schedule(pod)
	if err != nil {
		l.failed(ctx, qp, pod, err)
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = node
	if err := l.cache.AssumePod(assumed, node); err != nil {
		l.queue.Retry(qp)
		return
	}
	l.cache.SetNominated(pod, "") // its room is now taken by the pod itself
	l.queue.Done(qp)
	l.binds.Add(1)
	go func() {
		defer l.binds.Done()
		if err := l.bind(ctx, pod, node); err != nil {
			l.cache.ForgetPod(assumed)
			l.cache.SetNominated(pod, pod.Status.NominatedNodeName)
			if ctx.Err() != nil {
				return
			}
			l.events.record(ctx, pod, corev1.EventTypeWarning, "FailedScheduling", "Binding", fmt.Sprintf("Binding rejected: %v", err))
			l.queue.Retry(qp)
			return
		}
		l.events.record(ctx, pod, corev1.EventTypeNormal, "Scheduled", "Binding",
			fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node))
	}()
}

func (l *loop) bind(ctx context.Context, pod *corev1.Pod, node string) error {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := l.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("bind pod %s to %s: %w", PodKey(pod), node, err)
	}
	return nil
}

// failed reports why a pod could not be placed, preempts if that helps, and
// parks the pod until something changes.
func (l *loop) failed(ctx context.Context, qp *queuedPod, pod *corev1.Pod, err error) {
	latest := pod
	reason := corev1.PodReasonUnschedulable
	var fe *FitError
	if errors.As(err, &fe) {
		if fe.Preemption != nil {
			l.cache.SetNominated(pod, fe.Preemption.NodeName)
			if updated := l.preempt(ctx, pod, fe.Preemption); updated != nil {
				latest = updated
			}
		}
	} else if !errors.Is(err, ErrNoNodes) {
		reason = "SchedulerError"
	}
	msg := err.Error()
	l.events.record(ctx, pod, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", msg)
	if updated, uerr := l.setCondition(ctx, latest, reason, msg); uerr == nil && updated != nil {
		latest = updated
	}
	if latest != pod {
		l.queue.SetPod(qp, latest)
	}
	if reason == corev1.PodReasonUnschedulable {
		l.queue.Unschedulable(qp)
	} else {
		l.queue.Retry(qp)
	}
}
