package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
)

// split finds the ReplicaSet whose template is the Deployment's (the oldest
// such, should there be several) and returns the rest as old.
func split(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	byCreation(sorted)
	var newRS *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && sameTemplate(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// newReplicaSet returns the ReplicaSet of the current template with its
// revision brought up to date, creating it when create is set. It also sets
// the Deployment's revision annotation to match.
func (c *Controller) newReplicaSet(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := split(d, rss)
	var maxOld int64
	for _, rs := range old {
		if r := revision(rs); r > maxOld {
			maxOld = r
		}
	}
	next := strconv.FormatInt(maxOld+1, 10)

	if newRS != nil {
		n := newRS.DeepCopy()
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		copyAnnotations(d, n)
		if revision(newRS) < maxOld+1 {
			// A rollback: an old template is current again.
			addRevisionHistory(n.Annotations, newRS.Annotations[RevisionAnnotation])
			n.Annotations[RevisionAnnotation] = next
		}
		n.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		if !apiequality.Semantic.DeepEqual(n.Annotations, newRS.Annotations) || n.Spec.MinReadySeconds != newRS.Spec.MinReadySeconds {
			var err error
			if newRS, err = c.client.AppsV1().ReplicaSets(n.Namespace).Update(ctx, n, metav1.UpdateOptions{}); err != nil {
				return nil, nil, fmt.Errorf("update revision of replica set %s: %w", n.Name, err)
			}
		}
		if err := c.setRevision(ctx, d, newRS.Annotations[RevisionAnnotation]); err != nil {
			return nil, nil, err
		}
		if cond := getCondition(d.Status, appsv1.DeploymentProgressing); cond == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, "True", FoundNewRSReason, fmt.Sprintf("Found new replica set %q", newRS.Name), c.now()))
		}
		return newRS, old, nil
	}
	if !create {
		return nil, old, nil
	}

	hash := TemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := *d.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[HashLabel] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[HashLabel] = hash
	lbls := map[string]string{}
	for k, v := range d.Spec.Template.Labels {
		lbls[k] = v
	}
	lbls[HashLabel] = hash

	want := newReplicas(d, rss, nil)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          lbls,
			Annotations:     map[string]string{RevisionAnnotation: next},
			OwnerReferences: []metav1.OwnerReference{*ctrlutil.ControllerRef(d, gvk)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &want, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: tmpl},
	}
	copyAnnotations(d, rs)
	surge, _ := surgeAndUnavailable(d)
	rs.Annotations[DesiredReplicasAnnotation] = fmt.Sprint(replicas(d.Spec.Replicas))
	rs.Annotations[MaxReplicasAnnotation] = fmt.Sprint(replicas(d.Spec.Replicas) + surge)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, nil, fmt.Errorf("get replica set %s: %w", rs.Name, gerr)
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == d.UID && sameTemplate(&existing.Spec.Template, &d.Spec.Template) {
			// Ours; the cache had not shown it yet.
			return existing, old, nil
		}
		// A hash collision with someone else's ReplicaSet: count it so the
		// next hash differs, and retry.
		var cc int32
		if d.Status.CollisionCount != nil {
			cc = *d.Status.CollisionCount
		}
		cc++
		d.Status.CollisionCount = &cc
		if _, uerr := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); uerr != nil {
			return nil, nil, fmt.Errorf("record hash collision of %s: %w", d.Name, uerr)
		}
		return nil, nil, fmt.Errorf("replica set %s exists with another template: hash collision, retrying", rs.Name)
	}
	if err != nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, "False", "FailedCreate", fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err), c.now()))
		c.recorder.Eventf(d, "Warning", "FailedCreate", "Failed to create new replica set %q: %v", rs.Name, err)
		_, _ = c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		return nil, nil, fmt.Errorf("create replica set %s: %w", rs.Name, err)
	}
	if want > 0 {
		c.recorder.Eventf(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, want)
	}
	setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, "True", NewRSCreatedReason, fmt.Sprintf("Created new replica set %q", created.Name), c.now()))
	if err := c.setRevision(ctx, d, next); err != nil {
		return nil, nil, err
	}
	return created, old, nil
}

// copyAnnotations carries the Deployment's own annotations (change-cause
// among them, which rollout history shows) onto its ReplicaSet.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) {
	for k, v := range d.Annotations {
		if !notCopied[k] {
			rs.Annotations[k] = v
		}
	}
}

// setRevision patches the Deployment's revision annotation. It is a
// metadata patch rather than part of the status write, so it does not
// depend on how the API server treats metadata on the status subresource.
func (c *Controller) setRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if d.Annotations[RevisionAnnotation] == rev {
		return nil
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, RevisionAnnotation, rev)
	n, err := c.client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("set revision of deployment %s: %w", d.Name, err)
	}
	d.Annotations = n.Annotations
	d.ResourceVersion = n.ResourceVersion
	return nil
}

// newReplicas is how far the new ReplicaSet may grow now: to the full size
// under Recreate, and under RollingUpdate as far as maxSurge allows above
// the Deployment's size counting every ReplicaSet's pods.
func newReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicas(d.Spec.Replicas)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return want
	}
	var cur int32
	if newRS != nil {
		cur = replicas(newRS.Spec.Replicas)
	}
	surge, _ := surgeAndUnavailable(d)
	total := sumSpec(all)
	maxTotal := want + surge
	if total >= maxTotal {
		return cur
	}
	up := maxTotal - total
	if up > want-cur {
		up = want - cur
	}
	return cur + up
}

// cleanup deletes the oldest fully scaled-down ReplicaSets beyond
// revisionHistoryLimit (10 when unset, the API default).
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	limit := int32(10)
	if d.Spec.RevisionHistoryLimit != nil {
		limit = *d.Spec.RevisionHistoryLimit
	}
	var dead []*appsv1.ReplicaSet
	for _, rs := range old {
		if replicas(rs.Spec.Replicas) == 0 && rs.Status.Replicas == 0 && rs.DeletionTimestamp == nil && rs.Status.ObservedGeneration >= rs.Generation {
			dead = append(dead, rs)
		}
	}
	extra := len(dead) - int(limit)
	if extra <= 0 {
		return nil
	}
	sort.SliceStable(dead, func(i, j int) bool { return revision(dead[i]) < revision(dead[j]) })
	for _, rs := range dead[:extra] {
		uid := rs.UID
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replica set %s: %w", rs.Name, err)
		}
	}
	return nil
}
