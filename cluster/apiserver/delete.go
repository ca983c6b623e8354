package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/kube"
)

// Finalizers the propagation policies add; the garbage collector, not the
// API server, removes them.
const (
	finalizerOrphan     = "orphan"
	finalizerForeground = "foregroundDeletion"
)

// deleteOptions reads DeleteOptions from the body or the query.
func deleteOptions(r *http.Request, body []byte) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if len(body) > 0 {
		// client-go sends protobuf, kubectl JSON.
		gvk := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		if _, _, err := kube.Codecs().UniversalDeserializer().Decode(body, &gvk, opts); err != nil {
			if jerr := json.Unmarshal(body, opts); jerr != nil {
				return nil, badRequest("decode DeleteOptions: %v", err)
			}
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest("gracePeriodSeconds must be an integer, not %q", v)
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	if q.Get("dryRun") != "" {
		opts.DryRun = q["dryRun"]
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, badRequest("dryRun must be All, not %q", v)
		}
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, badRequest("propagationPolicy must be Orphan, Background or Foreground, not %q", *p)
		}
	}
	return opts, nil
}

// delete serves DELETE of one object.
func (s *server) delete(w http.ResponseWriter, r *http.Request, req *request) error {
	opts, err := deleteOptions(r, req.body)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		old, rev, err := s.load(r, req)
		if err != nil {
			return err
		}
		out, err := s.deleteOne(r.Context(), req, old, rev, opts)
		if apierrors.IsConflict(err) && opts.Preconditions == nil && attempt < maxRetries {
			continue
		}
		if err != nil {
			return err
		}
		return s.respond(w, r, req, http.StatusOK, out)
	}
}

// deleteOne deletes old (read at rev): at once, or by marking it deleted
// when finalizers hold it or a bound pod has a grace period to serve.
func (s *server) deleteOne(ctx context.Context, req *request, old runtime.Object, rev uint64, opts *metav1.DeleteOptions) (runtime.Object, error) {
	m := accessor(old)
	if p := opts.Preconditions; p != nil {
		if p.UID != nil && *p.UID != m.GetUID() {
			return nil, apierrors.NewConflict(req.gr, m.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
			return nil, apierrors.NewConflict(req.gr, m.GetName(), fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
		}
	}
	dry := len(opts.DryRun) > 0
	obj := old.DeepCopyObject()
	om := accessor(obj)
	changed := false
	finalizers := om.GetFinalizers()
	policy := metav1.DeletePropagationBackground
	if opts.PropagationPolicy != nil {
		policy = *opts.PropagationPolicy
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		policy = metav1.DeletePropagationOrphan
	}
	switch policy {
	case metav1.DeletePropagationOrphan:
		finalizers, changed = addFinalizer(finalizers, finalizerOrphan)
	case metav1.DeletePropagationForeground:
		finalizers, changed = addFinalizer(finalizers, finalizerForeground)
	}
	om.SetFinalizers(finalizers)

	if grace, ok := s.podGrace(obj, opts); ok {
		// A bound pod stops on its node first; the node agent deletes it
		// with grace 0 once its containers are gone.
		cur := om.GetDeletionGracePeriodSeconds()
		if om.GetDeletionTimestamp() == nil || cur == nil || grace < *cur {
			markDeleting(om, s.now().Add(time.Duration(grace)*time.Second), grace)
			changed = true
		}
		return s.markDeleted(ctx, req, obj, rev, changed, dry)
	}
	if ns, ok := obj.(*corev1.Namespace); ok && (len(ns.Spec.Finalizers) > 0 || len(finalizers) > 0) {
		// The namespace controller empties it, then clears spec.finalizers
		// through /finalize.
		if ns.DeletionTimestamp == nil {
			markDeleting(om, s.now(), 0)
			changed = true
		}
		if ns.Status.Phase != corev1.NamespaceTerminating {
			ns.Status.Phase = corev1.NamespaceTerminating
			changed = true
		}
		return s.markDeleted(ctx, req, obj, rev, changed, dry)
	}
	if len(finalizers) > 0 {
		// Finalizers hold the object; a grace period still running (a pod
		// now deleted with grace 0) ends, so their removal deletes it.
		if g := om.GetDeletionGracePeriodSeconds(); om.GetDeletionTimestamp() == nil || g == nil || *g != 0 {
			t := s.now()
			if dt := om.GetDeletionTimestamp(); dt != nil && dt.Time.Before(t) {
				t = dt.Time
			}
			markDeleting(om, t, 0)
			changed = true
		}
		return s.markDeleted(ctx, req, obj, rev, changed, dry)
	}
	if dry {
		return obj, nil
	}
	kv, err := s.cfg.Store.Delete(ctx, objectKey(req.kind, om.GetNamespace(), om.GetName()), rev)
	if err != nil {
		return nil, storeErr(err, req.gr, om.GetName())
	}
	setRV(obj, kv.Revision)
	return obj, nil
}

// markDeleted stores an object's deletion state when it changed.
func (s *server) markDeleted(ctx context.Context, req *request, obj runtime.Object, rev uint64, changed, dry bool) (runtime.Object, error) {
	if !changed || dry {
		return obj, nil
	}
	val, err := encodeForStore(req.kind, obj)
	if err != nil {
		return nil, err
	}
	m := accessor(obj)
	kv, err := s.cfg.Store.Update(ctx, objectKey(req.kind, m.GetNamespace(), m.GetName()), val, rev)
	if err != nil {
		return nil, storeErr(err, req.gr, m.GetName())
	}
	setRV(obj, kv.Revision)
	return obj, nil
}

// markDeleting sets an object's deletion time and grace period; the first
// time, generation moves too, as on Kubernetes.
func markDeleting(m metav1.Object, at time.Time, grace int64) {
	if m.GetDeletionTimestamp() == nil && m.GetGeneration() > 0 {
		m.SetGeneration(m.GetGeneration() + 1)
	}
	t := metav1.NewTime(at)
	m.SetDeletionTimestamp(&t)
	m.SetDeletionGracePeriodSeconds(&grace)
}

// podGrace is the grace period a pod's deletion gets, and whether it is
// graceful at all: only pods bound to a node, not finished, with grace > 0.
func (s *server) podGrace(obj runtime.Object, opts *metav1.DeleteOptions) (int64, bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return 0, false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if grace <= 0 {
		return 0, false
	}
	return grace, true
}

func addFinalizer(fs []string, f string) ([]string, bool) {
	for _, x := range fs {
		if x == f {
			return fs, false
		}
	}
	return append(fs, f), true
}

// deleteCollection serves DELETE of a kind's selected objects.
func (s *server) deleteCollection(w http.ResponseWriter, r *http.Request, req *request) error {
	opts, err := deleteOptions(r, req.body)
	if err != nil {
		return err
	}
	sel, err := parseSelector(r, req.kind, "")
	if err != nil {
		return err
	}
	res, err := s.collect(r, req, sel, false)
	if err != nil {
		return err
	}
	var deleted []runtime.Object
	for _, obj := range res.objs {
		rev, _ := parseRV(accessor(obj).GetResourceVersion())
		out, err := s.deleteOne(r.Context(), req, obj, rev, opts)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			continue // changed meanwhile: a later deletecollection gets it
		}
		if err != nil {
			return err
		}
		deleted = append(deleted, out)
	}
	list, err := s.newList(req.kind, deleted, strconv.FormatUint(res.rev, 10), "")
	if err != nil {
		return err
	}
	writeObject(w, r, http.StatusOK, list)
	return nil
}

var _ = schema.GroupResource{}
