// Package gc is the garbage collector: it deletes objects whose owners are
// all gone, deletes the dependents of an owner being deleted in the
// foreground before letting it go, and strips the owner references of an
// orphaning owner's dependents.
package gc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/kube"
)

const (
	byUID   = "gc-uid"
	byOwner = "gc-owner-uid"
)

// Collector is the garbage collector.
type Collector struct {
	kinds    []*kind
	loop     *ctrlutil.Loop
	recorder record.EventRecorder
}

// New adds the collector's indexes to the factory's informers; call it
// before the factory starts.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder) (*Collector, error) {
	c := &Collector{kinds: kinds(client, factory), recorder: recorder}
	c.loop = ctrlutil.NewLoop("garbage-collector", c.sync)
	for i, k := range c.kinds {
		err := k.informer.AddIndexers(cache.Indexers{
			byUID: func(obj interface{}) ([]string, error) {
				m, err := meta.Accessor(obj)
				if err != nil {
					return nil, nil
				}
				return []string{string(m.GetUID())}, nil
			},
			byOwner: func(obj interface{}) ([]string, error) {
				m, err := meta.Accessor(obj)
				if err != nil {
					return nil, nil
				}
				var out []string
				for _, r := range m.GetOwnerReferences() {
					out = append(out, string(r.UID))
				}
				return out, nil
			},
		})
		if err != nil && !strings.Contains(err.Error(), "conflict") {
			return nil, fmt.Errorf("index %s for the garbage collector: %w", k.gk, err)
		}
		idx := i
		k.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o interface{}) { c.enqueue(idx, o) },
			UpdateFunc: func(_, o interface{}) { c.enqueue(idx, o) },
			DeleteFunc: func(o interface{}) { c.deleted(o) },
		})
	}
	return c, nil
}

// Run collects until ctx ends.
func (c *Collector) Run(ctx context.Context, workers int) {
	var synced []cache.InformerSynced
	for _, k := range c.kinds {
		synced = append(synced, k.informer.HasSynced)
	}
	c.loop.Run(ctx, workers, synced...)
}

func (c *Collector) enqueue(kindIdx int, obj interface{}) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	c.loop.Queue.Add(fmt.Sprintf("%d/%s/%s", kindIdx, m.GetNamespace(), m.GetName()))
}

// deleted wakes the dependents of a vanished object (their owner may be
// gone) and its owners (one may be waiting for its dependents).
func (c *Collector) deleted(obj interface{}) {
	o, _ := kube.Deleted[any](obj)
	m, err := meta.Accessor(o)
	if err != nil {
		return
	}
	for i, k := range c.kinds {
		deps, _ := k.informer.GetIndexer().ByIndex(byOwner, string(m.GetUID()))
		for _, d := range deps {
			c.enqueue(i, d)
		}
	}
	for _, r := range m.GetOwnerReferences() {
		if i, o := c.byUID(r); o != nil {
			c.enqueue(i, o)
		}
	}
}

func (c *Collector) kindOf(r metav1.OwnerReference) (int, *kind) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return -1, nil
	}
	for i, k := range c.kinds {
		if k.gk.Group == gv.Group && k.gk.Kind == r.Kind {
			return i, k
		}
	}
	return -1, nil
}

// byUID finds an owner in the caches.
func (c *Collector) byUID(r metav1.OwnerReference) (int, metav1.Object) {
	i, k := c.kindOf(r)
	if k == nil {
		return -1, nil
	}
	objs, _ := k.informer.GetIndexer().ByIndex(byUID, string(r.UID))
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			return i, m
		}
	}
	return i, nil
}

// dependents lists, across the covered kinds, the cached objects that name
// uid as an owner.
func (c *Collector) dependents(uid types.UID) []dependent {
	var out []dependent
	for i, k := range c.kinds {
		objs, _ := k.informer.GetIndexer().ByIndex(byOwner, string(uid))
		for _, o := range objs {
			if m, err := meta.Accessor(o); err == nil {
				out = append(out, dependent{kind: i, obj: m})
			}
		}
	}
	return out
}

type dependent struct {
	kind int
	obj  metav1.Object
}

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

// removeFinalizer drops f with a merge patch that carries the
// resourceVersion, so it fails rather than clobbers a concurrent change.
func (c *Collector) removeFinalizer(ctx context.Context, k *kind, m metav1.Object, f string) error {
	var keep []string
	for _, x := range m.GetFinalizers() {
		if x != f {
			keep = append(keep, x)
		}
	}
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": keep, "resourceVersion": m.GetResourceVersion()}})
	if err != nil {
		return err
	}
	if err := k.patch(ctx, m.GetNamespace(), m.GetName(), data); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer %s from %s %s: %w", f, k.gk.Kind, m.GetName(), err)
	}
	return nil
}

// dropOwners removes the owner references with the given uids.
func (c *Collector) dropOwners(ctx context.Context, k *kind, m metav1.Object, uids map[types.UID]bool) error {
	var keep []metav1.OwnerReference
	for _, r := range m.GetOwnerReferences() {
		if !uids[r.UID] {
			keep = append(keep, r)
		}
	}
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": keep, "uid": m.GetUID()}})
	if err != nil {
		return err
	}
	if err := k.patch(ctx, m.GetNamespace(), m.GetName(), data); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove owner references from %s %s: %w", k.gk.Kind, m.GetName(), err)
	}
	return nil
}
