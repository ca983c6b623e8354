package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover/drover/cluster/store"
)

// localGetter reads the local replica (store.LocalReader).
type localGetter interface {
	GetLocal(key string) (store.KV, error)
}

// get serves one object; resourceVersion=0 accepts the local replica's
// copy, as Kubernetes serves it from its cache.
func (s *server) get(w http.ResponseWriter, r *http.Request, req *request) error {
	if lg, ok := s.cfg.Store.(localGetter); ok && r.URL.Query().Get("resourceVersion") == "0" {
		kv, err := lg.GetLocal(objectKey(req.kind, req.namespace, req.name))
		if err != nil {
			return storeErr(err, req.gr, req.name)
		}
		obj, err := decodeKV(req.kind, kv)
		if err != nil {
			return err
		}
		return s.respond(w, r, req, http.StatusOK, obj)
	}
	obj, _, err := s.load(r, req)
	if err != nil {
		return err
	}
	return s.respond(w, r, req, http.StatusOK, obj)
}

// load reads the object a named request is about.
func (s *server) load(r *http.Request, req *request) (runtime.Object, uint64, error) {
	kv, err := s.cfg.Store.Get(r.Context(), objectKey(req.kind, req.namespace, req.name))
	if err != nil {
		return nil, 0, storeErr(err, req.gr, req.name)
	}
	obj, err := decodeKV(req.kind, kv)
	if err != nil {
		return nil, 0, err
	}
	return obj, kv.Revision, nil
}

// respond writes an object of the request's kind, as a one-row table when
// the caller asked for tables.
func (s *server) respond(w http.ResponseWriter, r *http.Request, req *request, code int, obj runtime.Object) error {
	obj.GetObjectKind().SetGroupVersionKind(req.kind.GVK)
	if ok, err := wantsTable(r); err != nil {
		return err
	} else if ok {
		t, err := s.table(r, req.kind, []runtime.Object{obj}, true)
		if err != nil {
			return err
		}
		t.ResourceVersion = accessor(obj).GetResourceVersion()
		writeObject(w, r, code, t)
		return nil
	}
	if outputAs(r) == asMetadata {
		writeObject(w, r, code, partialMetadata(obj))
		return nil
	}
	writeObject(w, r, code, obj)
	return nil
}
