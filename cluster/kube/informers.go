package kube

import (
	"context"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Deleted is the object of an informer's delete notification: obj itself, or the last
// state a tombstone (cache.DeletedFinalStateUnknown, when the watch missed the delete)
// holds. ok is false when that is not a T.
func Deleted[T any](obj any) (t T, ok bool) {
	if d, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		obj = d.Obj
	}
	t, ok = obj.(T)
	return t, ok
}

// Informer is one kind's shared informer and the lister over its cache.
type Informer[L any] struct {
	informer cache.SharedIndexInformer
	lister   L
}

func (i Informer[L]) Informer() cache.SharedIndexInformer { return i.informer }
func (i Informer[L]) Lister() L                           { return i.lister }

// InformerFactory hands out one shared informer per kind, watching all namespaces, as
// client-go's SharedInformerFactory does for the kinds of Interface.
type InformerFactory struct {
	client Interface
	resync time.Duration

	mu        sync.Mutex
	informers map[reflect.Type]cache.SharedIndexInformer
	started   map[reflect.Type]bool
	wg        sync.WaitGroup
	stopped   bool
}

// NewInformerFactory makes a factory over client; resync 0 means never.
func NewInformerFactory(client Interface, resync time.Duration) *InformerFactory {
	return &InformerFactory{client: client, resync: resync,
		informers: map[reflect.Type]cache.SharedIndexInformer{}, started: map[reflect.Type]bool{}}
}

// lister is what a typed client gives an informer.
type lister[L runtime.Object] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// informerOf returns the informer of obj's kind over c (all namespaces), made on first
// use, with a lister over its cache.
func informerOf[T, L runtime.Object, Lister any](f *InformerFactory, obj T, c lister[L], newLister func(cache.Indexer) Lister) Informer[Lister] {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := reflect.TypeOf(obj)
	inf, ok := f.informers[t]
	if !ok {
		lw := &cache.ListWatch{
			ListWithContextFunc:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
			WatchFuncWithContext: c.Watch,
		}
		// A client that cannot stream lists (the fake) says so, and the reflector lists instead.
		inf = cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, f.client), obj, f.resync,
			cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		f.informers[t] = inf
	}
	return Informer[Lister]{inf, newLister(inf.GetIndexer())}
}

// Start runs every informer asked for so far that is not running yet, until stop closes.
func (f *InformerFactory) Start(stop <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	for t, inf := range f.informers {
		if f.started[t] {
			continue
		}
		f.started[t] = true
		f.wg.Add(1)
		go func() { defer f.wg.Done(); inf.Run(stop) }()
	}
}

// WaitForCacheSync waits until every started informer has listed, or stop closes.
func (f *InformerFactory) WaitForCacheSync(stop <-chan struct{}) map[reflect.Type]bool {
	f.mu.Lock()
	infs := map[reflect.Type]cache.SharedIndexInformer{}
	for t, inf := range f.informers {
		if f.started[t] {
			infs[t] = inf
		}
	}
	f.mu.Unlock()
	out := map[reflect.Type]bool{}
	for t, inf := range infs {
		out[t] = cache.WaitForCacheSync(stop, inf.HasSynced)
	}
	return out
}

// Shutdown waits for the started informers to stop (their stop channel must be closed)
// and refuses to start more.
func (f *InformerFactory) Shutdown() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *InformerFactory) Pods() Informer[corelisters.PodLister] {
	return informerOf(f, &corev1.Pod{}, f.client.CoreV1().Pods(""), corelisters.NewPodLister)
}

func (f *InformerFactory) Nodes() Informer[corelisters.NodeLister] {
	return informerOf(f, &corev1.Node{}, f.client.CoreV1().Nodes(), corelisters.NewNodeLister)
}

func (f *InformerFactory) Namespaces() Informer[corelisters.NamespaceLister] {
	return informerOf(f, &corev1.Namespace{}, f.client.CoreV1().Namespaces(), corelisters.NewNamespaceLister)
}

func (f *InformerFactory) Deployments() Informer[appslisters.DeploymentLister] {
	return informerOf(f, &appsv1.Deployment{}, f.client.AppsV1().Deployments(""), appslisters.NewDeploymentLister)
}

func (f *InformerFactory) ReplicaSets() Informer[appslisters.ReplicaSetLister] {
	return informerOf(f, &appsv1.ReplicaSet{}, f.client.AppsV1().ReplicaSets(""), appslisters.NewReplicaSetLister)
}

func (f *InformerFactory) DaemonSets() Informer[appslisters.DaemonSetLister] {
	return informerOf(f, &appsv1.DaemonSet{}, f.client.AppsV1().DaemonSets(""), appslisters.NewDaemonSetLister)
}

func (f *InformerFactory) ControllerRevisions() Informer[appslisters.ControllerRevisionLister] {
	return informerOf(f, &appsv1.ControllerRevision{}, f.client.AppsV1().ControllerRevisions(""), appslisters.NewControllerRevisionLister)
}

func (f *InformerFactory) Jobs() Informer[batchlisters.JobLister] {
	return informerOf(f, &batchv1.Job{}, f.client.BatchV1().Jobs(""), batchlisters.NewJobLister)
}

func (f *InformerFactory) Leases() Informer[coordinationlisters.LeaseLister] {
	return informerOf(f, &coordinationv1.Lease{}, f.client.CoordinationV1().Leases(""), coordinationlisters.NewLeaseLister)
}
