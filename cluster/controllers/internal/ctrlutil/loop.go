// Package ctrlutil holds what every controller in cluster/controllers shares:
// the worker loop over a rate-limited workqueue, expectations, controller
// references and pod helpers.
package ctrlutil

import (
	"context"
	"fmt"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Loop is a level-triggered reconcile loop: informer handlers Add keys, and
// workers call Sync for each key, retrying with backoff on error. A key is
// never synced by two workers at once (the workqueue guarantees it).
type Loop struct {
	Name  string
	Queue workqueue.TypedRateLimitingInterface[string]
	Sync  func(ctx context.Context, key string) error
}

// NewLoop makes a loop whose queue uses client-go's default controller rate
// limiter (per-item exponential backoff plus an overall token bucket).
func NewLoop(name string, sync func(ctx context.Context, key string) error) *Loop {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
	return &Loop{Name: name, Queue: q, Sync: sync}
}

// Enqueue adds the namespace/name key of obj (a live object or a tombstone).
func (l *Loop) Enqueue(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("%s: key of %T: %w", l.Name, obj, err))
		return
	}
	l.Queue.Add(key)
}

// EnqueueAfter adds obj's key after d (for time-based conditions such as
// minReadySeconds or deadlines).
func (l *Loop) EnqueueAfter(obj interface{}, d time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	l.Queue.AddAfter(key, d)
}

// Run starts workers and blocks until ctx ends; then it shuts the queue
// down and waits for the workers to finish their current item.
func (l *Loop) Run(ctx context.Context, workers int, synced ...cache.InformerSynced) {
	defer l.Queue.ShutDown()
	if !cache.WaitForNamedCacheSync(l.Name, ctx.Done(), synced...) {
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	l.Queue.ShutDown()
	wg.Wait()
}

func (l *Loop) next(ctx context.Context) bool {
	key, quit := l.Queue.Get()
	if quit {
		return false
	}
	defer l.Queue.Done(key)
	if err := l.Sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			klog.V(2).InfoS("sync failed, will retry", "controller", l.Name, "key", key, "err", err)
		}
		l.Queue.AddRateLimited(key)
		return true
	}
	l.Queue.Forget(key)
	return true
}

// Handlers returns informer handlers that enqueue the object itself.
func (l *Loop) Handlers() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    l.Enqueue,
		UpdateFunc: func(_, n interface{}) { l.Enqueue(n) },
		DeleteFunc: l.Enqueue,
	}
}
