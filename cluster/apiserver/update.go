package apiserver

import (
	"context"
	"errors"
	"net/http"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// commit finishes an update of old (read at rev) to obj: it keeps what the
// server owns, moves status by the subresource written, bumps generation
// when the spec changed, defaults, validates and writes under rev. An
// object whose deletion only waited on finalizers is removed once they are.
func (s *server) commit(ctx context.Context, req *request, old, obj runtime.Object, rev uint64, dry bool) (runtime.Object, error) {
	k := req.kind
	om, nm := accessor(old), accessor(obj)
	nm.SetUID(om.GetUID())
	nm.SetCreationTimestamp(om.GetCreationTimestamp())
	nm.SetDeletionTimestamp(om.GetDeletionTimestamp())
	nm.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	nm.SetGeneration(om.GetGeneration())
	nm.SetNamespace(om.GetNamespace())
	nm.SetName(om.GetName())

	oldMap, err := toMap(old)
	if err != nil {
		return nil, err
	}
	newMap, err := toMap(obj)
	if err != nil {
		return nil, err
	}
	if isNamespaces(k) {
		// spec.finalizers move only through /finalize, as on Kubernetes.
		oldFin, _, _ := unstructured.NestedFieldCopy(oldMap, "spec", "finalizers")
		if req.subresource == "finalize" {
			newFin, _, _ := unstructured.NestedFieldCopy(newMap, "spec", "finalizers")
			newMap = cloneMap(oldMap)
			oldFin = newFin
		}
		unstructured.RemoveNestedField(newMap, "spec", "finalizers")
		if oldFin != nil {
			if err := unstructured.SetNestedField(newMap, oldFin, "spec", "finalizers"); err != nil {
				return nil, err
			}
		}
	}
	if k.HasStatus {
		switch req.subresource {
		case "status":
			// Only the status moves; pods and nodes also take their
			// labels and annotations, which their agents maintain.
			keep := cloneMap(oldMap)
			setOrDelete(keep, "status", newMap["status"])
			if k.GVK.Group == "" && (k.Resource == "pods" || k.Resource == "nodes") {
				md, _ := keep["metadata"].(map[string]any)
				nmd, _ := newMap["metadata"].(map[string]any)
				if md != nil && nmd != nil {
					setOrDelete(md, "labels", nmd["labels"])
					setOrDelete(md, "annotations", nmd["annotations"])
				}
			}
			if md, _ := keep["metadata"].(map[string]any); md != nil {
				if nmd, _ := newMap["metadata"].(map[string]any); nmd != nil {
					setOrDelete(md, "resourceVersion", nmd["resourceVersion"])
				}
			}
			newMap = keep
		default:
			setOrDelete(newMap, "status", oldMap["status"])
		}
	}
	if hasSpec(newMap) && !reflect.DeepEqual(withoutMetaStatus(oldMap), withoutMetaStatus(newMap)) {
		md, _ := newMap["metadata"].(map[string]any)
		if md != nil {
			md["generation"] = om.GetGeneration() + 1
		}
	}
	obj, err = fromMap(k, newMap)
	if err != nil {
		return nil, err
	}
	if k.Default != nil {
		// Defaults never bring back a namespace finalizer /finalize removed.
		ns, _ := obj.(*corev1.Namespace)
		var fin []corev1.FinalizerName
		if ns != nil {
			fin = ns.Spec.Finalizers
		}
		k.Default(obj)
		if ns != nil {
			ns.Spec.Finalizers = fin
		}
	}
	if err := validate(k, obj, old); err != nil {
		return nil, err
	}
	nm = accessor(obj)
	if dry {
		setRV(obj, rev)
		return obj, nil
	}
	key := objectKey(k, nm.GetNamespace(), nm.GetName())
	if deletionDue(obj) {
		kv, err := s.cfg.Store.Delete(ctx, key, rev)
		if err != nil {
			return nil, storeErr(err, req.gr, nm.GetName())
		}
		setRV(obj, kv.Revision)
		return obj, nil
	}
	val, err := encodeForStore(k, obj)
	if err != nil {
		return nil, err
	}
	kv, err := s.cfg.Store.Update(ctx, key, val, rev)
	if err != nil {
		return nil, storeErr(err, req.gr, nm.GetName())
	}
	setRV(obj, kv.Revision)
	return obj, nil
}

// deletionDue: the object is being deleted, no finalizer holds it and no
// grace period is running.
func deletionDue(obj runtime.Object) bool {
	m := accessor(obj)
	if m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return false
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return false
	}
	g := m.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

func withoutMetaStatus(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
			out[k] = v
		}
	}
	return out
}

func cloneMap(m map[string]any) map[string]any {
	return runtime.DeepCopyJSON(m)
}

func setOrDelete(m map[string]any, key string, v any) {
	if v == nil {
		delete(m, key)
		return
	}
	m[key] = v
}

func isNamespaces(k *kinds.Kind) bool { return k.GVK.Group == "" && k.Resource == "namespaces" }

// allowCreateOnUpdate lists the kinds a PUT may create, as Kubernetes.
func allowCreateOnUpdate(k *kinds.Kind) bool {
	switch k.GVK.Group + "/" + k.Resource {
	case "coordination.k8s.io/leases", "/events", "events.k8s.io/events", "/endpoints":
		return true
	}
	return false
}

// update serves PUT of an object or its status.
func (s *server) update(w http.ResponseWriter, r *http.Request, req *request) error {
	k := req.kind
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	obj, err := decodeBody(w, r, req.body, k, k.GVK, k.New())
	if err != nil {
		return err
	}
	m := accessor(obj)
	if m.GetName() != req.name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), req.name)
	}
	if k.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(req.namespace)
		} else if m.GetNamespace() != req.namespace {
			return badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	}
	want, err := parseRV(m.GetResourceVersion())
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		old, rev, err := s.load(r, req)
		if apierrors.IsNotFound(err) && req.subresource == "" && allowCreateOnUpdate(k) {
			if err := s.checkNamespace(r.Context(), req, req.name); err != nil {
				return err
			}
			return s.create(w, r, req)
		}
		if err != nil {
			return err
		}
		if want != 0 && want != rev {
			return apierrors.NewConflict(req.gr, req.name, errors.New(conflictMsg))
		}
		out, err := s.commit(r.Context(), req, old, obj.DeepCopyObject(), rev, dry)
		if apierrors.IsConflict(err) && want == 0 && attempt < maxRetries {
			continue
		}
		if err != nil {
			return err
		}
		return s.respond(w, r, req, http.StatusOK, out)
	}
}
