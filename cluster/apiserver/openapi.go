package apiserver

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// serveOpenAPI serves /openapi/v2, the /openapi/v3 index and its documents.
func (s *server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/openapi/v2":
		if len(s.openapiV2) == 0 {
			return apierrors.NewNotFound(schema.GroupResource{}, "")
		}
		// client-go asks for the protobuf form (and parses nothing else).
		if strings.Contains(r.Header.Get("Accept"), "protobuf") && len(s.openapiV2Proto) > 0 {
			w.Header().Set("Content-Type", "application/octet-stream") // the proto media type does not parse as one
			_, _ = w.Write(s.openapiV2Proto)
			return nil
		}
		w.Header().Set("Content-Type", mediaJSON)
		_, _ = w.Write(s.openapiV2)
		return nil
	case path == "/openapi/v3":
		type entry struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		}
		idx := struct {
			Paths map[string]entry `json:"paths"`
		}{Paths: map[string]entry{}}
		for gv, doc := range s.openapiV3 {
			idx.Paths[gv] = entry{ServerRelativeURL: "/openapi/v3/" + gv + "?hash=" + docHash(doc)}
		}
		b, err := json.Marshal(idx)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", mediaJSON)
		_, _ = w.Write(b)
		return nil
	case strings.HasPrefix(path, "/openapi/v3/"):
		doc, ok := s.openapiV3[strings.TrimPrefix(path, "/openapi/v3/")]
		if !ok {
			return apierrors.NewNotFound(schema.GroupResource{}, "")
		}
		if r.URL.Query().Get("hash") == docHash(doc) {
			w.Header().Set("Cache-Control", "public, immutable")
		}
		w.Header().Set("Content-Type", mediaJSON)
		w.Header().Set("Etag", `"`+docHash(doc)+`"`)
		_, _ = w.Write(doc)
		return nil
	}
	return apierrors.NewNotFound(schema.GroupResource{}, "")
}

// v2Proto converts a swagger 2.0 JSON document to its protobuf form.
func v2Proto(doc []byte) ([]byte, error) {
	d, err := openapi_v2.ParseDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("parse openapi v2 document: %w", err)
	}
	return proto.Marshal(d)
}

func docHash(doc []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(doc))
}

// minimalOpenAPIV3 describes each kind's PATCH operation and nothing more:
// enough for kubectl to see that the server validates fields itself
// (fieldValidation), until the full documents are served.
func minimalOpenAPIV3(ks []*kinds.Kind) map[string][]byte {
	type param struct {
		Name   string         `json:"name"`
		In     string         `json:"in"`
		Schema map[string]any `json:"schema"`
	}
	byGV := map[string]map[string]any{}
	for _, k := range ks {
		gvPath := "api/v1"
		if k.GVK.Group != "" {
			gvPath = "apis/" + k.GVK.Group + "/" + k.GVK.Version
		} else if k.GVK.Version != "v1" {
			gvPath = "api/" + k.GVK.Version
		}
		paths := byGV[gvPath]
		if paths == nil {
			paths = map[string]any{}
			byGV[gvPath] = paths
		}
		p := "/" + gvPath + "/" + k.Resource + "/{name}"
		if k.Namespaced {
			p = "/" + gvPath + "/namespaces/{namespace}/" + k.Resource + "/{name}"
		}
		paths[p] = map[string]any{"patch": map[string]any{
			"operationId": "patch" + k.GVK.Kind,
			"x-kubernetes-group-version-kind": map[string]string{
				"group": k.GVK.Group, "version": k.GVK.Version, "kind": k.GVK.Kind,
			},
			"parameters": []param{
				{Name: "dryRun", In: "query", Schema: map[string]any{"type": "string"}},
				{Name: "fieldManager", In: "query", Schema: map[string]any{"type": "string"}},
				{Name: "fieldValidation", In: "query", Schema: map[string]any{"type": "string"}},
			},
			"responses": map[string]any{"200": map[string]any{"description": "OK"}},
		}}
	}
	out := map[string][]byte{}
	gvs := make([]string, 0, len(byGV))
	for gv := range byGV {
		gvs = append(gvs, gv)
	}
	sort.Strings(gvs)
	for _, gv := range gvs {
		b, err := json.Marshal(map[string]any{
			"openapi": "3.0.0",
			"info":    map[string]string{"title": "drover", "version": "v1"},
			"paths":   byGV[gv],
		})
		if err == nil {
			out[gv] = b
		}
	}
	return out
}
