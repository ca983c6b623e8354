package openapi

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/openapiconv"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// info names the API in every document.
var info = &spec.Info{InfoProps: spec.InfoProps{Title: "drover", Version: "v1"}}

// swagger builds the v2 document of all the kinds: every path and every
// definition they reach.
func swagger(ks []*kinds.Kind) (*spec.Swagger, map[string][]string) {
	b := newBuilder()
	paths := map[string]spec.PathItem{}
	for _, k := range ks {
		b.addPaths(paths, k)
	}
	// The kinds, their lists and the API's own kinds say which group,
	// version and kind they are.
	for _, k := range ks {
		listGVK := k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List")
		b.setGVK(definitionName(reflect.TypeOf(k.New()).Elem()), gvkMap(k.GVK))
		b.setGVK(definitionName(reflect.TypeOf(k.NewList()).Elem()), gvkMap(listGVK))
	}
	if _, ok := b.defs[definitionName(scaleType)]; ok {
		b.setGVK(definitionName(scaleType), gvkMap(scaleGVK))
	}
	var deleteGVKs []map[string]string
	for _, gv := range groupVersions(ks) {
		deleteGVKs = append(deleteGVKs, gvkMap(gv.WithKind("DeleteOptions")))
	}
	b.setGVK(definitionName(deleteOptionsType), deleteGVKs...)
	b.setGVK(definitionName(statusType), gvkMap(schema.GroupVersionKind{Version: "v1", Kind: "Status"}))
	return &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        info,
		Paths:       &spec.Paths{Paths: paths},
		Definitions: b.defs,
	}}, b.v3OneOf
}

func gvkMap(gvk schema.GroupVersionKind) map[string]string {
	return map[string]string{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// groupVersions lists the kinds' group versions, core first.
func groupVersions(ks []*kinds.Kind) []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, k := range ks {
		gv := k.GVK.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return groupVersionPath(out[i]) < groupVersionPath(out[j]) })
	return out
}

// V2 returns the OpenAPI v2 (swagger) document of the kinds in JSON, what
// /openapi/v2 serves for Accept: application/json.
func V2(ks []*kinds.Kind) []byte {
	doc, _ := swagger(ks)
	b, err := json.Marshal(doc)
	if err != nil {
		// Marshalling the document's own types cannot fail on data
		// built here; a failure is a bug worth a loud stop.
		panic(fmt.Sprintf("marshal openapi v2: %v", err))
	}
	return b
}

// V2Proto returns the v2 document as the protocol buffer kubectl asks for
// (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf).
func V2Proto(ks []*kinds.Kind) ([]byte, error) {
	doc, err := openapi_v2.ParseDocument(V2(ks))
	if err != nil {
		return nil, fmt.Errorf("parse openapi v2 for protobuf: %w", err)
	}
	b, err := proto.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal openapi v2 protobuf: %w", err)
	}
	return b, nil
}

// V3 returns one OpenAPI v3 document per group version, keyed by the path
// /openapi/v3/<key> serves it under ("api/v1", "apis/apps/v1"). Each holds
// its group version's paths and the schemas they reach.
func V3(ks []*kinds.Kind) map[string][]byte {
	all, oneOf := swagger(ks)
	out := map[string][]byte{}
	for _, gv := range groupVersions(ks) {
		prefix := "/" + groupVersionPath(gv) + "/"
		paths := map[string]spec.PathItem{}
		for p, item := range all.Paths.Paths {
			if len(p) > len(prefix) && p[:len(prefix)] == prefix {
				paths[p] = item
			}
		}
		part := &spec.Swagger{SwaggerProps: spec.SwaggerProps{
			Swagger:     "2.0",
			Info:        info,
			Paths:       &spec.Paths{Paths: paths},
			Definitions: reachable(all.Definitions, paths),
		}}
		doc := openapiconv.ConvertV2ToV3(part)
		doc.Version = "3.0.0"
		for name, types := range oneOf {
			if s, ok := doc.Components.Schemas[name]; ok {
				toV3OneOf(s, types)
			}
		}
		b, err := json.Marshal(doc)
		if err != nil {
			panic(fmt.Sprintf("marshal openapi v3 %s: %v", gv, err))
		}
		out[groupVersionPath(gv)] = b
	}
	return out
}

// reachable keeps the definitions the paths refer to, directly or through
// other definitions.
func reachable(defs spec.Definitions, paths map[string]spec.PathItem) spec.Definitions {
	want := map[string]bool{}
	for _, item := range paths {
		for _, o := range []*spec.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if o == nil {
				continue
			}
			for _, p := range o.Parameters {
				refsOf(p.Schema, want)
			}
			for _, r := range o.Responses.StatusCodeResponses {
				refsOf(r.Schema, want)
			}
		}
	}
	out := spec.Definitions{}
	for len(want) > 0 {
		next := map[string]bool{}
		for name := range want {
			if _, done := out[name]; done {
				continue
			}
			s := defs[name]
			out[name] = s
			refsOf(&s, next)
		}
		want = next
	}
	return out
}

// V3Index returns the /openapi/v3 discovery document for docs (as V3
// returns them): each group version's URL with a hash of its content, so
// clients cache a document until it changes.
func V3Index(docs map[string][]byte) []byte {
	type entry struct {
		URL string `json:"serverRelativeURL"`
	}
	paths := map[string]entry{}
	for key, doc := range docs {
		sum := sha512.Sum512(doc)
		paths[key] = entry{URL: "/openapi/v3/" + key + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
	}
	b, err := json.Marshal(map[string]interface{}{"paths": paths})
	if err != nil {
		panic(fmt.Sprintf("marshal openapi v3 index: %v", err))
	}
	return b
}
