package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// Output forms a client may ask for besides the object itself.
const (
	asObject   = ""
	asTable    = "Table"
	asMetadata = "PartialObjectMetadata" // or its List, for lists
)

// outputAs reads the Accept header's first form the server can produce:
// a meta.k8s.io Table (kubectl get), PartialObjectMetadata (metadata
// informers) or the object. Protobuf forms are skipped: replies are JSON.
func outputAs(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt == mediaProtobuf {
			continue
		}
		switch {
		case params["as"] == "":
			return asObject
		case params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1"):
			continue
		case params["as"] == "Table":
			return asTable
		case params["as"] == "PartialObjectMetadata" || params["as"] == "PartialObjectMetadataList":
			return asMetadata
		}
	}
	return asObject
}

// wantsTable says whether the caller asked for a Table.
func wantsTable(r *http.Request) (bool, error) { return outputAs(r) == asTable, nil }

// partialMetadata is an object's metadata alone.
func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
		ObjectMeta: objectMetaOf(accessor(obj)),
	}
}

// defaultColumns serve kinds that define none, as Kubernetes' default
// table does.
var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Age", Type: "string", Description: "CreationTimestamp is a timestamp representing the server time when this object was created."},
}

// table renders objects as a Table; includeObject says how rows carry
// the object (Metadata by default, Object, None).
func (s *server) table(r *http.Request, k *kinds.Kind, objs []runtime.Object, withColumns bool) (*metav1.Table, error) {
	include := metav1.IncludeMetadata
	switch v := r.URL.Query().Get("includeObject"); v {
	case "", "Metadata":
	case "Object":
		include = metav1.IncludeObject
	case "None":
		include = metav1.IncludeNone
	default:
		return nil, badRequest("includeObject must be one of None, Metadata or Object, not %q", v)
	}
	now := s.now()
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, Rows: []metav1.TableRow{}}
	if withColumns {
		t.ColumnDefinitions = k.Columns
		if len(k.Columns) == 0 || k.Row == nil {
			t.ColumnDefinitions = defaultColumns
		}
	}
	for _, obj := range objs {
		row := metav1.TableRow{}
		if len(k.Columns) > 0 && k.Row != nil {
			row.Cells = k.Row(obj, now)
		} else {
			m := accessor(obj)
			row.Cells = []any{m.GetName(), age(m.GetCreationTimestamp().Time, now)}
		}
		switch include {
		case metav1.IncludeMetadata:
			b, err := json.Marshal(partialMetadata(obj))
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: b}
		case metav1.IncludeObject:
			obj.GetObjectKind().SetGroupVersionKind(k.GVK)
			b, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: b}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func objectMetaOf(m metav1.Object) metav1.ObjectMeta {
	if om, ok := m.(*metav1.ObjectMeta); ok {
		return *om
	}
	return metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(),
		UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(),
		CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
		DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(), Labels: m.GetLabels(),
		Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(),
		Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
	}
}

// age renders how old something is, as kubectl's AGE column does.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
