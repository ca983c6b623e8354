package gc

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func (c *Collector) sync(ctx context.Context, key string) error {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return nil
	}
	i, err := strconv.Atoi(parts[0])
	if err != nil || i < 0 || i >= len(c.kinds) {
		return nil
	}
	k := c.kinds[i]
	storeKey := parts[2]
	if parts[1] != "" {
		storeKey = parts[1] + "/" + parts[2]
	}
	obj, exists, err := k.informer.GetIndexer().GetByKey(storeKey)
	if err != nil || !exists {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	if m.GetDeletionTimestamp() != nil {
		if hasFinalizer(m, metav1.FinalizerOrphanDependents) {
			return c.orphan(ctx, k, m)
		}
		if hasFinalizer(m, metav1.FinalizerDeleteDependents) {
			return c.foreground(ctx, k, m)
		}
		return nil
	}
	return c.checkOwners(ctx, k, m)
}

// orphan strips this owner from its dependents, then lets it go.
func (c *Collector) orphan(ctx context.Context, k *kind, owner metav1.Object) error {
	for _, d := range c.dependents(owner.GetUID()) {
		if err := c.dropOwners(ctx, c.kinds[d.kind], d.obj, map[types.UID]bool{owner.GetUID(): true}); err != nil {
			return err
		}
	}
	return c.removeFinalizer(ctx, k, owner, metav1.FinalizerOrphanDependents)
}

// foreground deletes the owner's dependents and lets it go once none that
// blocks its deletion is left.
func (c *Collector) foreground(ctx context.Context, k *kind, owner metav1.Object) error {
	blocking := 0
	for _, d := range c.dependents(owner.GetUID()) {
		for _, r := range d.obj.GetOwnerReferences() {
			if r.UID == owner.GetUID() && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				blocking++
			}
		}
		if d.obj.GetDeletionTimestamp() != nil {
			continue
		}
		if err := c.delete(ctx, d.kind, d.obj, c.policyForDependent(d.obj)); err != nil {
			return err
		}
	}
	if blocking > 0 {
		// The dependents' deletions wake this owner again.
		return nil
	}
	return c.removeFinalizer(ctx, k, owner, metav1.FinalizerDeleteDependents)
}

// policyForDependent: a dependent that owns others is itself deleted in
// the foreground, so a whole chain is gone before its root.
func (c *Collector) policyForDependent(m metav1.Object) metav1.DeletionPropagation {
	if len(c.dependents(m.GetUID())) > 0 {
		return metav1.DeletePropagationForeground
	}
	return metav1.DeletePropagationBackground
}

// checkOwners deletes m when none of its owners exists any more, and
// drops references to vanished owners when some still do.
func (c *Collector) checkOwners(ctx context.Context, k *kind, m metav1.Object) error {
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil
	}
	solid, waiting := 0, 0
	absent := map[types.UID]bool{}
	for _, r := range refs {
		state, err := c.ownerState(ctx, m.GetNamespace(), r)
		if err != nil {
			return err
		}
		switch state {
		case ownerSolid:
			solid++
		case ownerWaiting:
			waiting++
		case ownerAbsent:
			absent[r.UID] = true
		}
	}
	switch {
	case solid > 0:
		if len(absent) > 0 {
			return c.dropOwners(ctx, k, m, absent)
		}
		return nil
	case waiting > 0:
		// An owner is being deleted in the foreground; its own sync
		// deletes this one.
		return nil
	}
	policy := metav1.DeletePropagationBackground
	if hasFinalizer(m, metav1.FinalizerOrphanDependents) {
		policy = metav1.DeletePropagationOrphan
	} else if hasFinalizer(m, metav1.FinalizerDeleteDependents) {
		policy = metav1.DeletePropagationForeground
	}
	idx := -1
	for i, kk := range c.kinds {
		if kk == k {
			idx = i
		}
	}
	return c.delete(ctx, idx, m, policy)
}

type ownerState int

const (
	ownerSolid ownerState = iota
	ownerWaiting
	ownerAbsent
)

// ownerState judges an owner reference; absence is confirmed with a live
// read, since a new owner may not be in the cache yet.
func (c *Collector) ownerState(ctx context.Context, ns string, r metav1.OwnerReference) (ownerState, error) {
	_, k := c.kindOf(r)
	if k == nil {
		return ownerSolid, nil // a kind this collector does not cover
	}
	if _, o := c.byUID(r); o != nil {
		return stateOf(o), nil
	}
	live, err := k.get(ctx, ns, r.Name)
	if apierrors.IsNotFound(err) {
		return ownerAbsent, nil
	}
	if err != nil {
		return ownerSolid, fmt.Errorf("look up owner %s %s: %w", r.Kind, r.Name, err)
	}
	if live.GetUID() != r.UID {
		return ownerAbsent, nil
	}
	return stateOf(live), nil
}

func stateOf(o metav1.Object) ownerState {
	if o.GetDeletionTimestamp() != nil && hasFinalizer(o, metav1.FinalizerDeleteDependents) {
		return ownerWaiting
	}
	return ownerSolid
}

func (c *Collector) delete(ctx context.Context, kindIdx int, m metav1.Object, policy metav1.DeletionPropagation) error {
	k := c.kinds[kindIdx]
	uid := m.GetUID()
	err := k.del(ctx, m.GetNamespace(), m.GetName(), metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete %s %s/%s: %w", k.gk.Kind, m.GetNamespace(), m.GetName(), err)
	}
	return nil
}
