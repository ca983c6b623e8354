package openapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	"k8s.io/kube-openapi/pkg/spec3"
	openapiproto "k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// fakeClient hands client-go's openapi3 root our documents as the
// /openapi/v3 discovery would.
type fakeClient map[string][]byte

type fakeGV []byte

func (c fakeClient) Paths() (map[string]openapi.GroupVersion, error) {
	out := map[string]openapi.GroupVersion{}
	for k, v := range c {
		out[k] = fakeGV(v)
	}
	return out, nil
}

func (g fakeGV) Schema(contentType string) ([]byte, error) {
	if contentType != "application/json" {
		return nil, fmt.Errorf("unexpected content type %s", contentType)
	}
	return g, nil
}

func (g fakeGV) ServerRelativeURL() string { return "" }

func v3Root(t *testing.T) openapi3.Root {
	t.Helper()
	return openapi3.NewRoot(fakeClient(V3(kinds.All())))
}

func TestV3DocumentsResolve(t *testing.T) {
	root := v3Root(t)
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"v1": true, "apps/v1": true, "batch/v1": true, "scheduling.k8s.io/v1": true, "coordination.k8s.io/v1": true}
	if len(gvs) != len(want) {
		t.Fatalf("group versions %v", gvs)
	}
	for _, gv := range gvs {
		if !want[gv.String()] {
			t.Errorf("unexpected group version %s", gv)
		}
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		if doc.Version != "3.0.0" || doc.Components == nil || len(doc.Components.Schemas) == 0 || len(doc.Paths.Paths) == 0 {
			t.Fatalf("%s: incomplete document", gv)
		}
		// Every reference, in schemas and in operations, resolves.
		raw, _ := json.Marshal(doc)
		var generic interface{}
		if err := json.Unmarshal(raw, &generic); err != nil {
			t.Fatal(err)
		}
		walkRefs(generic, func(ref string) {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if name == ref {
				t.Errorf("%s: reference %s outside components", gv, ref)
			} else if _, ok := doc.Components.Schemas[name]; !ok {
				t.Errorf("%s: reference %s does not resolve", gv, ref)
			}
		})
	}
}

func walkRefs(v interface{}, f func(string)) {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				f(s)
			}
			walkRefs(e, f)
		}
	case []interface{}:
		for _, e := range x {
			walkRefs(e, f)
		}
	}
}

// kindSchema finds a kind's schema the way kubectl apply does: by its
// x-kubernetes-group-version-kind.
func kindSchema(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) (string, *spec.Schema) {
	for name, s := range doc.Components.Schemas {
		var list []map[string]string
		if err := s.Extensions.GetObject("x-kubernetes-group-version-kind", &list); err != nil {
			continue
		}
		for _, g := range list {
			if g["group"] == gvk.Group && g["version"] == gvk.Version && g["kind"] == gvk.Kind {
				return name, s
			}
		}
	}
	return "", nil
}

func TestV3KindsAsKubectlFindsThem(t *testing.T) {
	root := v3Root(t)
	for _, k := range kinds.All() {
		doc, err := root.GVSpec(k.GVK.GroupVersion())
		if err != nil {
			t.Fatal(err)
		}
		name, s := kindSchema(doc, k.GVK)
		if s == nil {
			t.Errorf("%s: no schema with its group-version-kind", k.GVK)
			continue
		}
		if want := "." + k.GVK.Kind; !strings.HasSuffix(name, want) || !strings.HasPrefix(name, "io.k8s.api.") {
			t.Errorf("%s: schema named %s", k.GVK, name)
		}
		for _, f := range []string{"apiVersion", "kind", "metadata"} {
			if _, ok := s.Properties[f]; !ok {
				t.Errorf("%s: no %s property", k.GVK, f)
			}
		}
		// kubectl 1.32 validates on the server when a PATCH of the kind
		// takes fieldValidation; apply sends a strategic merge patch when
		// the PATCH accepts one.
		patchOK, fieldValidation := false, false
		for _, p := range doc.Paths.Paths {
			if p.Patch == nil || !gvkMatches(p.Patch.Extensions, k.GVK) {
				continue
			}
			if _, ok := p.Patch.RequestBody.Content["application/strategic-merge-patch+json"]; ok {
				patchOK = true
			}
			for _, param := range p.Patch.Parameters {
				if param.Name == "fieldValidation" && param.In == "query" {
					fieldValidation = true
				}
			}
		}
		if !patchOK || !fieldValidation {
			t.Errorf("%s: strategic merge patch %v, fieldValidation %v", k.GVK, patchOK, fieldValidation)
		}
	}
}

func gvkMatches(ext spec.Extensions, gvk schema.GroupVersionKind) bool {
	var m map[string]string
	if err := ext.GetObject("x-kubernetes-group-version-kind", &m); err != nil {
		return false
	}
	return m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind
}

func TestV3PatchMetadata(t *testing.T) {
	root := v3Root(t)
	tests := []struct {
		gvk      schema.GroupVersionKind
		path     []string // fields, lists marked with []
		mergeKey string
		strategy string
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, []string{"spec", "containers[]"}, "name", "merge"},
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, []string{"spec", "volumes[]"}, "name", "merge,retainKeys"},
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, []string{"spec", "containers[]", "ports[]"}, "containerPort", "merge"},
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, []string{"spec", "containers[]", "env[]"}, "name", "merge"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, []string{"spec", "template", "spec", "containers[]"}, "name", "merge"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, []string{"spec", "strategy"}, "", "retainKeys"},
	}
	for _, tt := range tests {
		doc, err := root.GVSpec(tt.gvk.GroupVersion())
		if err != nil {
			t.Fatal(err)
		}
		_, s := kindSchema(doc, tt.gvk)
		var meta strategicpatch.LookupPatchMeta = strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: doc.Components.Schemas}
		var pm strategicpatch.PatchMeta
		for _, f := range tt.path {
			if name, list := strings.CutSuffix(f, "[]"); list {
				meta, pm, err = meta.LookupPatchMetadataForSlice(name)
			} else {
				meta, pm, err = meta.LookupPatchMetadataForStruct(f)
			}
			if err != nil {
				t.Fatalf("%s %v: %v", tt.gvk.Kind, tt.path, err)
			}
		}
		if pm.GetPatchMergeKey() != tt.mergeKey || strings.Join(pm.GetPatchStrategies(), ",") != tt.strategy {
			t.Errorf("%s %v: merge key %q strategies %v, want %q %q", tt.gvk.Kind, tt.path, pm.GetPatchMergeKey(), pm.GetPatchStrategies(), tt.mergeKey, tt.strategy)
		}
	}
}

// The three-way patch kubectl apply computes from our schema merges
// containers by name: a container added on the server survives.
func TestV3ThreeWayPatchMergesContainers(t *testing.T) {
	root := v3Root(t)
	doc, err := root.GVSpec(schema.GroupVersion{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	_, s := kindSchema(doc, schema.GroupVersionKind{Version: "v1", Kind: "Pod"})
	meta := strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: doc.Components.Schemas}
	original := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"nginx:1"}]}}`)
	modified := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"nginx:2"}]}}`)
	current := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"nginx:1"},{"name":"sidecar","image":"envoy"}]}}`)
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), `"$setElementOrder/containers"`) || !strings.Contains(string(patch), `"name":"a"`) {
		t.Fatalf("patch does not merge containers by name: %s", patch)
	}
	merged, err := strategicpatch.StrategicMergePatchUsingLookupPatchMeta(current, patch, meta)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(merged), "sidecar") || !strings.Contains(string(merged), "nginx:2") {
		t.Fatalf("merged pod lost the sidecar or the new image: %s", merged)
	}
}

// The v2 document, as the protocol buffer kubectl downloads, parses into
// kubectl's models, carries the patch metadata and validates pods.
func TestV2ProtoModels(t *testing.T) {
	b, err := V2Proto(kinds.All())
	if err != nil {
		t.Fatal(err)
	}
	doc := &openapi_v2.Document{}
	if err := proto.Unmarshal(b, doc); err != nil {
		t.Fatal(err)
	}
	models, err := openapiproto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl's model parser refused the document: %v", err)
	}
	for _, name := range []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.apps.v1.Deployment", "io.k8s.api.batch.v1.Job",
		"io.k8s.api.scheduling.v1.PriorityClass", "io.k8s.api.coordination.v1.Lease", "io.k8s.api.autoscaling.v1.Scale"} {
		if models.LookupModel(name) == nil {
			t.Errorf("no model %s", name)
		}
	}
	pod := models.LookupModel("io.k8s.api.core.v1.Pod")
	meta := strategicpatch.NewPatchMetaFromOpenAPI(pod)
	specMeta, _, err := meta.LookupPatchMetadataForStruct("spec")
	if err != nil {
		t.Fatal(err)
	}
	_, pm, err := specMeta.LookupPatchMetadataForSlice("containers")
	if err != nil || pm.GetPatchMergeKey() != "name" {
		t.Fatalf("v2 containers merge key %q: %v", pm.GetPatchMergeKey(), err)
	}

	good := map[string]interface{}{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]interface{}{"name": "p"},
		"spec": map[string]interface{}{"containers": []interface{}{map[string]interface{}{"name": "a", "image": "nginx",
			"resources": map[string]interface{}{"limits": map[string]interface{}{"cpu": "500m"}},
			"ports":     []interface{}{map[string]interface{}{"containerPort": 80}}}}}}
	if errs := protovalidation.ValidateModel(good, pod, "Pod"); len(errs) != 0 {
		t.Errorf("good pod: %v", errs)
	}
	bad := map[string]interface{}{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]interface{}{"name": "p"},
		"spec": map[string]interface{}{"containerz": []interface{}{}}}
	if errs := protovalidation.ValidateModel(bad, pod, "Pod"); len(errs) == 0 {
		t.Error("pod with an unknown field passed validation")
	}
}

func TestTypeNames(t *testing.T) {
	var doc struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(V2(kinds.All()), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       `"format":"date-time"`,
		"io.k8s.apimachinery.pkg.api.resource.Quantity":   `"type":"string"`,
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": `"format":"int-or-string"`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": `"x-kubernetes-patch-strategy":"merge"`,
		"io.k8s.api.core.v1.Container":                    `"required":["name"]`,
	}
	for name, fragment := range want {
		def, ok := doc.Definitions[name]
		if !ok {
			t.Errorf("no definition %s", name)
			continue
		}
		if !strings.Contains(string(def), fragment) {
			t.Errorf("%s lacks %s: %.300s", name, fragment, def)
		}
	}
}

// Documents are the same bytes each time, so the index's hashes hold
// across restarts and servers.
func TestDocumentsDeterministic(t *testing.T) {
	a, b := V3(kinds.All()), V3(kinds.All())
	for key := range a {
		if string(a[key]) != string(b[key]) {
			t.Errorf("v3 %s differs between two builds", key)
		}
	}
	if string(V2(kinds.All())) != string(V2(kinds.All())) {
		t.Error("v2 differs between two builds")
	}
	if string(V3Index(a)) != string(V3Index(b)) {
		t.Error("v3 index differs between two builds")
	}
}
