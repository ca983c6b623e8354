package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// selector is a request's label and field selectors.
type selector struct {
	labels labels.Selector
	fields fields.Selector
}

// parseSelector reads labelSelector and fieldSelector, refusing field
// labels the kind cannot select on as Kubernetes does.
func parseSelector(r *http.Request, k *kinds.Kind, name string) (selector, error) {
	q := r.URL.Query()
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return selector{}, badRequest("unable to parse requirement: %v", err)
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return selector{}, badRequest("invalid field selector: %v", err)
	}
	known := fields.Set{"metadata.name": "", "metadata.namespace": ""}
	if k.Fields != nil {
		for f := range k.Fields(k.New()) {
			known[f] = ""
		}
	}
	for _, req := range fs.Requirements() {
		if _, ok := known[req.Field]; !ok {
			return selector{}, badRequest("field label not supported: %s", req.Field)
		}
	}
	if name != "" { // a watch of one object (/watch/.../name)
		fs = fields.AndSelectors(fs, fields.OneTermEqualSelector("metadata.name", name))
	}
	return selector{labels: ls, fields: fs}, nil
}

// matches says whether obj is selected.
func (sel selector) matches(k *kinds.Kind, obj runtime.Object) bool {
	m := accessor(obj)
	if !sel.labels.Empty() && !sel.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	if sel.fields.Empty() {
		return true
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if k.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	if k.Fields != nil {
		for f, v := range k.Fields(obj) {
			set[f] = v
		}
	}
	return sel.fields.Matches(set)
}

// continueToken carries a list's revision and the last key it returned,
// so every page reads one state.
type continueToken struct {
	Rev   uint64 `json:"rv"`
	After string `json:"start"`
}

func encodeContinue(rev uint64, after string) string {
	b, _ := json.Marshal(continueToken{Rev: rev, After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Rev == 0 {
		return t, badRequest("invalid continue token: start the list again without it")
	}
	return t, nil
}

// listResult is a page of selected objects.
type listResult struct {
	objs []runtime.Object
	rev  uint64
	cont string
}

// localLister is what a store offers to read its own replica without the
// leader (store.LocalReader); watches and resourceVersion="0" lists use it
// so followers serve them, as Kubernetes serves them from its cache.
type localLister interface {
	ListLocal(prefix string, opts store.ListOptions) (store.ListResult, error)
}

// lister picks the read a list should use.
func (s *server) lister(local bool) func(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	if lr, ok := s.cfg.Store.(localLister); ok && local {
		return func(_ context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
			return lr.ListLocal(prefix, opts)
		}
	}
	return s.cfg.Store.List
}

// collect reads the selected objects of a prefix, a page at a time when
// limit > 0, at the revision the request names. local allows a replica read.
func (s *server) collect(r *http.Request, req *request, sel selector, local bool) (listResult, error) {
	list := s.lister(local)
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return listResult{}, badRequest("limit must be a non-negative integer, not %q", v)
		}
		limit = n
	}
	opts := store.ListOptions{}
	if c := q.Get("continue"); c != "" {
		if q.Get("resourceVersion") != "" && q.Get("resourceVersion") != "0" {
			return listResult{}, badRequest("specifying resource version is not allowed when using continue")
		}
		t, err := decodeContinue(c)
		if err != nil {
			return listResult{}, err
		}
		opts.Revision, opts.After = t.Rev, t.After
	} else if rv := q.Get("resourceVersion"); rv != "" && rv != "0" && q.Get("resourceVersionMatch") == "Exact" {
		n, err := parseRV(rv)
		if err != nil {
			return listResult{}, err
		}
		opts.Revision = n
	} else if m := q.Get("resourceVersionMatch"); m != "" && m != "Exact" && m != "NotOlderThan" {
		return listResult{}, badRequest("resourceVersionMatch must be Exact or NotOlderThan, not %q", m)
	}
	prefix := listPrefix(req.kind, req.namespace)
	var out listResult
	for {
		page := opts
		if limit > 0 {
			page.Limit = limit - len(out.objs)
			if page.Limit < 50 && (!sel.labels.Empty() || !sel.fields.Empty()) {
				page.Limit = 50 // selectors drop items; read ahead
			}
		}
		res, err := list(r.Context(), prefix, page)
		if err != nil {
			if errors.Is(err, store.ErrCompacted) {
				return listResult{}, apierrors.NewResourceExpired("The provided continue parameter or resourceVersion is too old to display a consistent list result. Start a new list without them.")
			}
			return listResult{}, storeErr(err, req.gr, "")
		}
		out.rev = res.Revision
		opts.Revision = res.Revision
		for i, kv := range res.KVs {
			obj, err := decodeKV(req.kind, kv)
			if err != nil {
				return listResult{}, err
			}
			if !sel.matches(req.kind, obj) {
				continue
			}
			out.objs = append(out.objs, obj)
			if limit > 0 && len(out.objs) == limit {
				if i < len(res.KVs)-1 || res.More {
					out.cont = encodeContinue(res.Revision, kv.Key)
				}
				return out, nil
			}
		}
		if !res.More || len(res.KVs) == 0 {
			return out, nil
		}
		opts.After = res.KVs[len(res.KVs)-1].Key
	}
}

// list serves a list (or table) of a kind.
func (s *server) list(w http.ResponseWriter, r *http.Request, req *request) error {
	sel, err := parseSelector(r, req.kind, "")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	local := q.Get("resourceVersion") == "0" && q.Get("continue") == ""
	res, err := s.collect(r, req, sel, local)
	if err != nil {
		return err
	}
	rv := strconv.FormatUint(res.rev, 10)
	if ok, err := wantsTable(r); err != nil {
		return err
	} else if ok {
		t, err := s.table(r, req.kind, res.objs, true)
		if err != nil {
			return err
		}
		t.ResourceVersion, t.Continue = rv, res.cont
		writeObject(w, r, http.StatusOK, t)
		return nil
	}
	if outputAs(r) == asMetadata {
		pl := &metav1.PartialObjectMetadataList{
			TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"},
			ListMeta: metav1.ListMeta{ResourceVersion: rv, Continue: res.cont},
			Items:    []metav1.PartialObjectMetadata{},
		}
		for _, obj := range res.objs {
			pl.Items = append(pl.Items, *partialMetadata(obj))
		}
		writeObject(w, r, http.StatusOK, pl)
		return nil
	}
	list, err := s.newList(req.kind, res.objs, rv, res.cont)
	if err != nil {
		return err
	}
	writeObject(w, r, http.StatusOK, list)
	return nil
}

// newList builds the kind's typed list.
func (s *server) newList(k *kinds.Kind, objs []runtime.Object, rv, cont string) (runtime.Object, error) {
	list := k.NewList()
	if err := meta.SetList(list, objs); err != nil {
		return nil, fmt.Errorf("build %s list: %w", k.GVK.Kind, err)
	}
	la, err := meta.ListAccessor(list)
	if err != nil {
		return nil, fmt.Errorf("build %s list: %w", k.GVK.Kind, err)
	}
	la.SetResourceVersion(rv)
	la.SetContinue(cont)
	list.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: k.GVK.Group, Version: k.GVK.Version, Kind: k.GVK.Kind + "List"})
	return list, nil
}
