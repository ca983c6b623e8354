package apiserver

import (
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// groupSegment is the group's segment of a store key; the core group has none.
func groupSegment(k *kinds.Kind) string {
	if k.GVK.Group == "" {
		return "core"
	}
	return k.GVK.Group
}

// objectKey is where an object lives in the store:
// "/<group>/<resource>/<namespace>/<name>", or without the namespace for
// cluster-scoped kinds.
func objectKey(k *kinds.Kind, namespace, name string) string {
	if k.Namespaced {
		return "/" + groupSegment(k) + "/" + k.Resource + "/" + namespace + "/" + name
	}
	return "/" + groupSegment(k) + "/" + k.Resource + "/" + name
}

// listPrefix selects a kind's objects, in one namespace when given.
func listPrefix(k *kinds.Kind, namespace string) string {
	p := "/" + groupSegment(k) + "/" + k.Resource + "/"
	if k.Namespaced && namespace != "" {
		p += namespace + "/"
	}
	return p
}

// decodeKV turns a stored value into a typed object whose resourceVersion
// is the value's revision.
func decodeKV(k *kinds.Kind, kv store.KV) (runtime.Object, error) {
	obj := k.New()
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s %s: %w", k.GVK.Kind, kv.Key, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK)
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("decode stored %s %s: %w", k.GVK.Kind, kv.Key, err)
	}
	m.SetResourceVersion(strconv.FormatUint(kv.Revision, 10))
	return obj, nil
}

// encodeForStore is the object's JSON with the resourceVersion cleared: the
// store's revision is the version.
func encodeForStore(k *kinds.Kind, obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(k.GVK)
	b, err := json.Marshal(obj)
	m.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", k.GVK.Kind, m.GetName(), err)
	}
	return b, nil
}

// setRV sets an object's resourceVersion to a store revision.
func setRV(obj runtime.Object, rev uint64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatUint(rev, 10))
	}
}

func accessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(fmt.Sprintf("apiserver: %T has no object metadata: %v", obj, err))
	}
	return m
}

// toMap converts a typed object to its unstructured form.
func toMap(obj runtime.Object) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}

// fromMap fills a new object of kind k from its unstructured form.
func fromMap(k *kinds.Kind, m map[string]any) (runtime.Object, error) {
	obj := k.New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, obj); err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK)
	return obj, nil
}

// parseRV parses a resourceVersion; "" is 0.
func parseRV(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest("invalid resource version %q: a resourceVersion is a decimal revision", s)
	}
	return v, nil
}
