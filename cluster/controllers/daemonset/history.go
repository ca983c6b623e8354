package daemonset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
)

// revisionData is what a ControllerRevision of a DaemonSet holds: a
// strategic merge patch that puts its template back, which is what
// kubectl rollout undo daemonset applies.
func revisionData(ds *appsv1.DaemonSet) ([]byte, error) {
	raw, err := json.Marshal(ds.Spec.Template)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// syncHistory makes sure the current template has a ControllerRevision
// named after its hash with the highest revision number (a rollback to an
// old template renumbers that one), and prunes unused old revisions beyond
// revisionHistoryLimit. kubectl rollout history daemonset lists these.
func (c *Controller) syncHistory(ctx context.Context, ds *appsv1.DaemonSet, hash string, inUse map[string]bool) error {
	all, err := c.revs.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	var owned []*appsv1.ControllerRevision
	var maxRev int64
	var cur *appsv1.ControllerRevision
	name := ds.Name + "-" + hash
	for _, r := range all {
		if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != ds.UID {
			continue
		}
		owned = append(owned, r)
		if r.Name == name {
			cur = r
		} else if r.Revision > maxRev {
			maxRev = r.Revision
		}
	}
	switch {
	case cur == nil:
		data, err := revisionData(ds)
		if err != nil {
			return fmt.Errorf("revision of daemon set %s: %w", ds.Name, err)
		}
		lbls := map[string]string{}
		for k, v := range ds.Spec.Template.Labels {
			lbls[k] = v
		}
		lbls[RevisionLabel] = hash
		cr := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: ds.Namespace, Labels: lbls,
				Annotations:     copyChangeCause(ds.Annotations),
				OwnerReferences: []metav1.OwnerReference{*ctrlutil.ControllerRef(ds, gvk)},
			},
			Data:     runtime.RawExtension{Raw: data},
			Revision: maxRev + 1,
		}
		if _, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("record revision of daemon set %s: %w", ds.Name, err)
		}
	case cur.Revision <= maxRev:
		n := cur.DeepCopy()
		n.Revision = maxRev + 1
		if _, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("renumber revision %s: %w", cur.Name, err)
		}
	}

	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	var old []*appsv1.ControllerRevision
	for _, r := range owned {
		if r.Name != name && !inUse[r.Labels[RevisionLabel]] {
			old = append(old, r)
		}
	}
	if len(old) <= limit {
		return nil
	}
	sort.Slice(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
	for _, r := range old[:len(old)-limit] {
		if err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("prune revision %s: %w", r.Name, err)
		}
	}
	return nil
}

func copyChangeCause(ann map[string]string) map[string]string {
	if v, ok := ann["kubernetes.io/change-cause"]; ok {
		return map[string]string{"kubernetes.io/change-cause": v}
	}
	return nil
}
