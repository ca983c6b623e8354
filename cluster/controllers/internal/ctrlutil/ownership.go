package ctrlutil

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/cluster/kube"
)

// ControllerRef is the owner reference a controller puts on what it creates:
// controller=true marks the one managing owner, and blockOwnerDeletion lets a
// foreground deletion of the owner wait for it.
func ControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	t := true
	return &metav1.OwnerReference{
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

// Claimer decides which pods a controller owns: those already pointing at
// it and still matching, plus matching orphans it adopts; owned pods that no
// longer match are released.
type Claimer struct {
	Client   kube.Interface
	Owner    metav1.Object
	GVK      schema.GroupVersionKind
	Selector labels.Selector
	// Fresh re-reads the owner from the API before the first adoption, so a
	// stale cache never adopts for an owner that was deleted and recreated.
	Fresh func(ctx context.Context) (metav1.Object, error)
	// Patch applies a merge patch to a dependent; nil patches pods.
	Patch   func(ctx context.Context, o metav1.Object, patch []byte) (metav1.Object, error)
	checked bool
}

// ClaimPods returns the pods the owner controls after adopting and releasing.
func (c *Claimer) ClaimPods(ctx context.Context, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	objs := make([]metav1.Object, len(pods))
	for i, p := range pods {
		objs[i] = p
	}
	owned, err := c.Claim(ctx, objs)
	out := make([]*corev1.Pod, len(owned))
	for i, o := range owned {
		out[i] = o.(*corev1.Pod)
	}
	return out, err
}

func (c *Claimer) patch(ctx context.Context, o metav1.Object, data []byte) (metav1.Object, error) {
	if c.Patch != nil {
		return c.Patch(ctx, o, data)
	}
	return c.Client.CoreV1().Pods(o.GetNamespace()).Patch(ctx, o.GetName(), types.MergePatchType, data, metav1.PatchOptions{})
}

// Claim is ClaimPods for any kind of dependent (Patch must be set).
func (c *Claimer) Claim(ctx context.Context, objs []metav1.Object) ([]metav1.Object, error) {
	var owned []metav1.Object
	var errs []error
	for _, p := range objs {
		ref := metav1.GetControllerOfNoCopy(p)
		match := c.Selector.Matches(labels.Set(p.GetLabels()))
		switch {
		case ref != nil && ref.UID == c.Owner.GetUID():
			if match {
				owned = append(owned, p)
				continue
			}
			if c.Owner.GetDeletionTimestamp() != nil {
				continue
			}
			if err := c.release(ctx, p); err != nil {
				errs = append(errs, err)
			}
		case ref != nil:
			// Someone else's.
		case match && p.GetDeletionTimestamp() == nil && c.Owner.GetDeletionTimestamp() == nil:
			if err := c.canAdopt(ctx); err != nil {
				errs = append(errs, err)
				continue
			}
			np, err := c.adopt(ctx, p)
			if err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
				continue
			}
			owned = append(owned, np)
		}
	}
	if len(errs) > 0 {
		return owned, fmt.Errorf("claim pods of %s: %v", c.Owner.GetName(), errs)
	}
	return owned, nil
}

func (c *Claimer) canAdopt(ctx context.Context) error {
	if c.checked || c.Fresh == nil {
		return nil
	}
	o, err := c.Fresh(ctx)
	if err != nil {
		return fmt.Errorf("re-read %s before adopting: %w", c.Owner.GetName(), err)
	}
	if o.GetUID() != c.Owner.GetUID() {
		return fmt.Errorf("%s was recreated (uid %s, cached %s): not adopting", c.Owner.GetName(), o.GetUID(), c.Owner.GetUID())
	}
	if o.GetDeletionTimestamp() != nil {
		return fmt.Errorf("%s is being deleted: not adopting", c.Owner.GetName())
	}
	c.checked = true
	return nil
}

// adopt adds the controller reference with a merge patch that also checks
// the pod's uid, so a recreated pod of the same name is not adopted.
func (c *Claimer) adopt(ctx context.Context, p metav1.Object) (metav1.Object, error) {
	refs := append([]metav1.OwnerReference{}, p.GetOwnerReferences()...)
	refs = append(refs, *ControllerRef(c.Owner, c.GVK))
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "uid": p.GetUID()}})
	if err != nil {
		return nil, err
	}
	np, err := c.patch(ctx, p, patch)
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", p.GetName(), err)
	}
	return np, nil
}

func (c *Claimer) release(ctx context.Context, p metav1.Object) error {
	var refs []metav1.OwnerReference
	for _, r := range p.GetOwnerReferences() {
		if r.UID != c.Owner.GetUID() {
			refs = append(refs, r)
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "uid": p.GetUID()}})
	if err != nil {
		return err
	}
	_, err = c.patch(ctx, p, patch)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release %s: %w", p.GetName(), err)
	}
	return nil
}
