package openapi

import (
	"reflect"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// Media types of request bodies: kubectl apply looks for strategic merge
// patch among a PATCH's to know it may send one.
var (
	writeTypes = []string{"*/*"}
	patchTypes = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	readTypes  = []string{"application/json", "application/yaml"}
)

var (
	statusType        = reflect.TypeOf(metav1.Status{})
	deleteOptionsType = reflect.TypeOf(metav1.DeleteOptions{})
	patchType         = reflect.TypeOf(metav1.Patch{})
	scaleType         = reflect.TypeOf(autoscalingv1.Scale{})
	scaleGVK          = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
)

// groupVersionPath is where a group version is served: api/v1 for the
// core group, apis/<group>/<version> for the others.
func groupVersionPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// gvPrefix names operations as Kubernetes does: CoreV1, AppsV1,
// SchedulingV1 (from scheduling.k8s.io).
func gvPrefix(gv schema.GroupVersion) string {
	group := gv.Group
	if group == "" {
		group = "core"
	}
	group, _, _ = strings.Cut(group, ".")
	return upperFirst(group) + upperFirst(gv.Version)
}

func gvTag(gv schema.GroupVersion) string {
	group := gv.Group
	if group == "" {
		group = "core"
	}
	group, _, _ = strings.Cut(group, ".")
	return group + "_" + gv.Version
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func gvkExtension(gvk schema.GroupVersionKind) map[string]interface{} {
	return map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

func queryParam(name, typ, description string) spec.Parameter {
	return spec.Parameter{
		ParamProps:   spec.ParamProps{Name: name, In: "query", Description: description},
		SimpleSchema: spec.SimpleSchema{Type: typ},
	}
}

func pathParam(name, description string) spec.Parameter {
	return spec.Parameter{
		ParamProps:   spec.ParamProps{Name: name, In: "path", Description: description, Required: true},
		SimpleSchema: spec.SimpleSchema{Type: "string"},
	}
}

func bodyParam(s spec.Schema) spec.Parameter {
	return spec.Parameter{ParamProps: spec.ParamProps{Name: "body", In: "body", Required: true, Schema: &s}}
}

var (
	prettyParam = queryParam("pretty", "string", "If 'true', then the output is pretty printed.")
	listParams  = []spec.Parameter{
		queryParam("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
		queryParam("continue", "string", "The continue option should be set when retrieving more results from the server."),
		queryParam("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
		queryParam("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
		queryParam("limit", "integer", "limit is a maximum number of responses to return for a list call."),
		queryParam("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from."),
		queryParam("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
		queryParam("sendInitialEvents", "boolean", "sendInitialEvents=true may be set together with watch=true."),
		queryParam("timeoutSeconds", "integer", "Timeout for the list/watch call."),
		queryParam("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
	}
	dryRunParam          = queryParam("dryRun", "string", "When present, indicates that modifications should not be persisted. The only valid value is All.")
	fieldManagerParam    = queryParam("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes.")
	fieldValidationParam = queryParam("fieldValidation", "string",
		"fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn and Strict.")
	forceParam       = queryParam("force", "boolean", "Force is going to \"force\" Apply requests. It must be unset for non-apply patch requests.")
	gracePeriodParam = queryParam("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted.")
	propagationParam = queryParam("propagationPolicy", "string", "Whether and how garbage collection will be performed: Orphan, Background or Foreground.")
)

// op is one operation of a path.
type op struct {
	action, id string
	gvk        schema.GroupVersionKind
	params     []spec.Parameter
	consumes   []string
	body       *spec.Schema
	responses  map[int]spec.Schema
}

func (o op) build(tag string) *spec.Operation {
	params := append([]spec.Parameter{}, o.params...)
	if o.body != nil {
		params = append([]spec.Parameter{bodyParam(*o.body)}, params...)
	}
	responses := map[int]spec.Response{}
	for code, s := range o.responses {
		s := s
		responses[code] = spec.Response{ResponseProps: spec.ResponseProps{Description: httpStatusText(code), Schema: &s}}
	}
	responses[401] = spec.Response{ResponseProps: spec.ResponseProps{Description: "Unauthorized"}}
	operation := &spec.Operation{OperationProps: spec.OperationProps{
		ID:         o.id,
		Consumes:   o.consumes,
		Produces:   readTypes,
		Schemes:    []string{"https"},
		Tags:       []string{tag},
		Parameters: params,
		Responses:  &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: responses}},
	}}
	operation.AddExtension("x-kubernetes-action", o.action)
	operation.AddExtension("x-kubernetes-group-version-kind", gvkExtension(o.gvk))
	return operation
}

func httpStatusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	}
	return ""
}

// addPaths adds a kind's operations: its collection (list, create,
// delete collection), each object (read, replace, patch, delete), its
// /status and /scale when it serves them, and for namespaced kinds the
// list across namespaces.
func (b *builder) addPaths(paths map[string]spec.PathItem, k *kinds.Kind) {
	gv := k.GVK.GroupVersion()
	prefix := "/" + groupVersionPath(gv)
	tag := gvTag(gv)
	obj := b.ref(reflect.TypeOf(k.New()).Elem())
	list := b.ref(reflect.TypeOf(k.NewList()).Elem())
	status := b.ref(statusType)
	deleteOpts := b.ref(deleteOptionsType)
	patch := b.ref(patchType)

	scope, collection := "", prefix+"/"+k.Resource
	base := []spec.Parameter{prettyParam}
	if k.Namespaced {
		scope = "Namespaced"
		collection = prefix + "/namespaces/{namespace}/" + k.Resource
		base = append(base, pathParam("namespace", "object name and auth scope, such as for teams and projects"))
		paths[prefix+"/"+k.Resource] = spec.PathItem{PathItemProps: spec.PathItemProps{
			Get: op{action: "list", id: "list" + gvPrefix(gv) + k.GVK.Kind + "ForAllNamespaces", gvk: k.GVK,
				params: append([]spec.Parameter{prettyParam}, listParams...), consumes: writeTypes,
				responses: map[int]spec.Schema{200: list}}.build(tag),
		}}
	}
	name := append(append([]spec.Parameter{}, base...), pathParam("name", "name of the "+k.GVK.Kind))
	writes := []spec.Parameter{dryRunParam, fieldManagerParam, fieldValidationParam}
	patches := append(append([]spec.Parameter{}, writes...), forceParam)
	deletes := []spec.Parameter{dryRunParam, gracePeriodParam, propagationParam}
	id := func(verb, suffix string) string { return verb + gvPrefix(gv) + scope + k.GVK.Kind + suffix }

	paths[collection] = spec.PathItem{PathItemProps: spec.PathItemProps{
		Get: op{action: "list", id: id("list", ""), gvk: k.GVK, params: append(append([]spec.Parameter{}, base...), listParams...),
			consumes: writeTypes, responses: map[int]spec.Schema{200: list}}.build(tag),
		Post: op{action: "post", id: id("create", ""), gvk: k.GVK, params: append(append([]spec.Parameter{}, base...), writes...),
			consumes: writeTypes, body: &obj, responses: map[int]spec.Schema{200: obj, 201: obj, 202: obj}}.build(tag),
		Delete: op{action: "deletecollection", id: "delete" + gvPrefix(gv) + "Collection" + scope + k.GVK.Kind, gvk: k.GVK,
			params: append(append(append([]spec.Parameter{}, base...), deletes...), listParams...), consumes: writeTypes,
			body: &deleteOpts, responses: map[int]spec.Schema{200: status}}.build(tag),
	}}
	paths[collection+"/{name}"] = spec.PathItem{PathItemProps: spec.PathItemProps{
		Get: op{action: "get", id: id("read", ""), gvk: k.GVK, params: name, consumes: writeTypes,
			responses: map[int]spec.Schema{200: obj}}.build(tag),
		Put: op{action: "put", id: id("replace", ""), gvk: k.GVK, params: append(append([]spec.Parameter{}, name...), writes...),
			consumes: writeTypes, body: &obj, responses: map[int]spec.Schema{200: obj, 201: obj}}.build(tag),
		Patch: op{action: "patch", id: id("patch", ""), gvk: k.GVK, params: append(append([]spec.Parameter{}, name...), patches...),
			consumes: patchTypes, body: &patch, responses: map[int]spec.Schema{200: obj, 201: obj}}.build(tag),
		Delete: op{action: "delete", id: id("delete", ""), gvk: k.GVK, params: append(append([]spec.Parameter{}, name...), deletes...),
			consumes: writeTypes, body: &deleteOpts, responses: map[int]spec.Schema{200: status, 202: status}}.build(tag),
	}}
	sub := func(suffix string, gvk schema.GroupVersionKind, s spec.Schema) {
		label := upperFirst(suffix)
		paths[collection+"/{name}/"+suffix] = spec.PathItem{PathItemProps: spec.PathItemProps{
			Get: op{action: "get", id: id("read", label), gvk: gvk, params: name, consumes: writeTypes,
				responses: map[int]spec.Schema{200: s}}.build(tag),
			Put: op{action: "put", id: id("replace", label), gvk: gvk, params: append(append([]spec.Parameter{}, name...), writes...),
				consumes: writeTypes, body: &s, responses: map[int]spec.Schema{200: s, 201: s}}.build(tag),
			Patch: op{action: "patch", id: id("patch", label), gvk: gvk, params: append(append([]spec.Parameter{}, name...), patches...),
				consumes: patchTypes, body: &patch, responses: map[int]spec.Schema{200: s, 201: s}}.build(tag),
		}}
	}
	if k.HasStatus {
		sub("status", k.GVK, obj)
	}
	if k.Scale != nil {
		sub("scale", scaleGVK, b.ref(scaleType))
	}
}
