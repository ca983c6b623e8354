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

// informerFor returns the kind's informer, making it on first use.
func informerFor[T runtime.Object](f *InformerFactory, obj T,
	list func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error),
	watchFn func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error)) cache.SharedIndexInformer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := reflect.TypeOf(obj)
	if inf, ok := f.informers[t]; ok {
		return inf
	}
	// A client that cannot stream lists (the fake) says so, and the reflector lists instead.
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: watchFn}, f.client)
	inf := cache.NewSharedIndexInformer(lw, obj, f.resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	f.informers[t] = inf
	return inf
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
	c := f.client.CoreV1()
	inf := informerFor(f, &corev1.Pod{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Pods("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Pods("").Watch(ctx, o)
		})
	return Informer[corelisters.PodLister]{inf, corelisters.NewPodLister(inf.GetIndexer())}
}

func (f *InformerFactory) Nodes() Informer[corelisters.NodeLister] {
	c := f.client.CoreV1()
	inf := informerFor(f, &corev1.Node{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.Nodes().List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Nodes().Watch(ctx, o)
		})
	return Informer[corelisters.NodeLister]{inf, corelisters.NewNodeLister(inf.GetIndexer())}
}

func (f *InformerFactory) Namespaces() Informer[corelisters.NamespaceLister] {
	c := f.client.CoreV1()
	inf := informerFor(f, &corev1.Namespace{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Namespaces().List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Namespaces().Watch(ctx, o)
		})
	return Informer[corelisters.NamespaceLister]{inf, corelisters.NewNamespaceLister(inf.GetIndexer())}
}

func (f *InformerFactory) Deployments() Informer[appslisters.DeploymentLister] {
	c := f.client.AppsV1()
	inf := informerFor(f, &appsv1.Deployment{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Deployments("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Deployments("").Watch(ctx, o)
		})
	return Informer[appslisters.DeploymentLister]{inf, appslisters.NewDeploymentLister(inf.GetIndexer())}
}

func (f *InformerFactory) ReplicaSets() Informer[appslisters.ReplicaSetLister] {
	c := f.client.AppsV1()
	inf := informerFor(f, &appsv1.ReplicaSet{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.ReplicaSets("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.ReplicaSets("").Watch(ctx, o)
		})
	return Informer[appslisters.ReplicaSetLister]{inf, appslisters.NewReplicaSetLister(inf.GetIndexer())}
}

func (f *InformerFactory) DaemonSets() Informer[appslisters.DaemonSetLister] {
	c := f.client.AppsV1()
	inf := informerFor(f, &appsv1.DaemonSet{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.DaemonSets("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.DaemonSets("").Watch(ctx, o)
		})
	return Informer[appslisters.DaemonSetLister]{inf, appslisters.NewDaemonSetLister(inf.GetIndexer())}
}

func (f *InformerFactory) ControllerRevisions() Informer[appslisters.ControllerRevisionLister] {
	c := f.client.AppsV1()
	inf := informerFor(f, &appsv1.ControllerRevision{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.ControllerRevisions("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.ControllerRevisions("").Watch(ctx, o)
		})
	return Informer[appslisters.ControllerRevisionLister]{inf, appslisters.NewControllerRevisionLister(inf.GetIndexer())}
}

func (f *InformerFactory) Jobs() Informer[batchlisters.JobLister] {
	c := f.client.BatchV1()
	inf := informerFor(f, &batchv1.Job{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Jobs("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Jobs("").Watch(ctx, o)
		})
	return Informer[batchlisters.JobLister]{inf, batchlisters.NewJobLister(inf.GetIndexer())}
}

func (f *InformerFactory) Leases() Informer[coordinationlisters.LeaseLister] {
	c := f.client.CoordinationV1()
	inf := informerFor(f, &coordinationv1.Lease{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Leases("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Leases("").Watch(ctx, o)
		})
	return Informer[coordinationlisters.LeaseLister]{inf, coordinationlisters.NewLeaseLister(inf.GetIndexer())}
}
