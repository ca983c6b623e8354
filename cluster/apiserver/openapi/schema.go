// Package openapi describes the served kinds in OpenAPI v2 and v3, built
// by reflection over k8s.io/api's Go types: what kubectl reads to explain
// fields, to compute strategic merge patches for apply (the patch merge
// keys and strategies) and to learn that the server validates fields.
package openapi

import (
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// definitionName is a Go type's schema name as Kubernetes spells it: the
// package path with its domain reversed ("k8s.io/api/core/v1".Pod is
// "io.k8s.api.core.v1.Pod").
func definitionName(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	domain := strings.Split(parts[0], ".")
	for i, j := 0, len(domain)-1; i < j; i, j = i+1, j-1 {
		domain[i], domain[j] = domain[j], domain[i]
	}
	return strings.Join(append([]string{strings.Join(domain, ".")}, parts[1:]...), ".") + "." + t.Name()
}

// Types that describe themselves (Quantity, Time, IntOrString, Duration)
// implement these, as kube-openapi's generator expects.
type (
	schemaTyper     interface{ OpenAPISchemaType() []string }
	schemaFormatter interface{ OpenAPISchemaFormat() string }
	v3OneOfTyper    interface{ OpenAPIV3OneOfTypes() []string }
	swaggerDoc      interface{ SwaggerDoc() map[string]string }
)

// opaqueTypes hold arbitrary JSON objects.
var opaqueTypes = map[reflect.Type]bool{
	reflect.TypeOf(runtime.RawExtension{}): true,
	reflect.TypeOf(metav1.FieldsV1{}):      true,
}

// builder collects the v2 definitions of the types it is asked about and
// of every type they reach.
type builder struct {
	defs spec.Definitions
	// v3OneOf holds the types that v3 describes as one of several
	// (Quantity: string or number; IntOrString: integer or string).
	v3OneOf map[string][]string
}

func newBuilder() *builder { return &builder{defs: spec.Definitions{}, v3OneOf: map[string][]string{}} }

func refTo(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef("#/definitions/" + name)}}
}

func typed(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

// ref defines t (once) and returns a reference to it.
func (b *builder) ref(t reflect.Type) spec.Schema {
	name := definitionName(t)
	if _, ok := b.defs[name]; !ok {
		b.defs[name] = spec.Schema{} // placeholder: recursive types end here
		b.defs[name] = b.define(t)
	}
	return refTo(name)
}

// schemaOf is the schema of a field of type t.
func (b *builder) schemaOf(t reflect.Type) spec.Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return b.ref(t)
	}
	if _, ok := reflect.New(t).Elem().Interface().(schemaTyper); ok && t.PkgPath() != "" {
		return b.ref(t)
	}
	switch t.Kind() {
	case reflect.String:
		return typed("string", "")
	case reflect.Bool:
		return typed("boolean", "")
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return typed("integer", "int32")
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return typed("integer", "int64")
	case reflect.Float32, reflect.Float64:
		return typed("number", "double")
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return typed("string", "byte")
		}
		items := b.schemaOf(t.Elem())
		s := typed("array", "")
		s.Items = &spec.SchemaOrArray{Schema: &items}
		return s
	case reflect.Map:
		values := b.schemaOf(t.Elem())
		s := typed("object", "")
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &values}
		return s
	}
	return typed("object", "")
}

// define builds the definition of a named type: a leaf for types that
// describe themselves, an object with properties for structs.
func (b *builder) define(t reflect.Type) spec.Schema {
	zero := reflect.New(t).Elem().Interface()
	var s spec.Schema
	if doc, ok := zero.(swaggerDoc); ok {
		s.Description = doc.SwaggerDoc()[""]
	}
	if opaqueTypes[t] {
		s.Type = spec.StringOrArray{"object"}
		return s
	}
	if typer, ok := zero.(schemaTyper); ok {
		s.Type = typer.OpenAPISchemaType()
		if f, ok := zero.(schemaFormatter); ok {
			s.Format = f.OpenAPISchemaFormat()
		}
		if v3, ok := zero.(v3OneOfTyper); ok {
			b.v3OneOf[definitionName(t)] = v3.OpenAPIV3OneOfTypes()
		}
		return s
	}
	s.Type = spec.StringOrArray{"object"}
	s.Properties = map[string]spec.Schema{}
	b.addFields(&s, t)
	return s
}

// addFields adds t's JSON fields to s, those of inlined structs (TypeMeta,
// a probe's handler, a volume's source) as its own.
func (b *builder) addFields(s *spec.Schema, t reflect.Type) {
	var docs map[string]string
	if doc, ok := reflect.New(t).Elem().Interface().(swaggerDoc); ok {
		docs = doc.SwaggerDoc()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			b.addFields(s, ft)
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := b.schemaOf(f.Type)
		p.Description = docs[name]
		if key := f.Tag.Get("patchMergeKey"); key != "" {
			p.AddExtension("x-kubernetes-patch-merge-key", key)
		}
		if strategy := f.Tag.Get("patchStrategy"); strategy != "" {
			p.AddExtension("x-kubernetes-patch-strategy", strategy)
		}
		s.Properties[name] = p
		// A field always written (no omitempty) that is not a bool or
		// number is one the API requires, as Kubernetes marks them.
		if !strings.Contains(opts, "omitempty") && requirable(f.Type) {
			s.Required = append(s.Required, name)
		}
	}
}

func requirable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return false
	}
	return true
}

// setGVK marks a definition as the schema of the given kinds, which is how
// kubectl finds a kind's schema.
func (b *builder) setGVK(name string, gvks ...map[string]string) {
	s := b.defs[name]
	list := make([]interface{}, 0, len(gvks))
	for _, g := range gvks {
		list = append(list, map[string]interface{}{"group": g["group"], "version": g["version"], "kind": g["kind"]})
	}
	s.AddExtension("x-kubernetes-group-version-kind", list)
	b.defs[name] = s
}

// refsOf lists the definitions a schema refers to directly.
func refsOf(s *spec.Schema, out map[string]bool) {
	if s == nil {
		return
	}
	if r := s.Ref.String(); r != "" {
		out[strings.TrimPrefix(r, "#/definitions/")] = true
	}
	for _, p := range s.Properties {
		refsOf(&p, out)
	}
	if s.Items != nil {
		refsOf(s.Items.Schema, out)
		for i := range s.Items.Schemas {
			refsOf(&s.Items.Schemas[i], out)
		}
	}
	if s.AdditionalProperties != nil {
		refsOf(s.AdditionalProperties.Schema, out)
	}
	for i := range s.AllOf {
		refsOf(&s.AllOf[i], out)
	}
}

// toV3OneOf rewrites a leaf definition for v3 as Kubernetes publishes it:
// without a single type, one of its types instead; an int-or-string also
// says so, which kubectl explain shows as <IntOrString>.
func toV3OneOf(s *spec.Schema, types []string) {
	alternatives := make([]spec.Schema, 0, len(types))
	for _, typ := range types {
		alternatives = append(alternatives, typed(typ, ""))
	}
	s.Type, s.Format = nil, ""
	// The extensions map may be shared with the v2 definition: copy it.
	ext := spec.Extensions{}
	for k, v := range s.Extensions {
		ext[k] = v
	}
	s.Extensions = ext
	if len(types) == 2 && types[0] == "integer" && types[1] == "string" {
		s.AnyOf = alternatives
		s.AddExtension("x-kubernetes-int-or-string", true)
		return
	}
	s.OneOf = alternatives
}
