// Package kinds describes each resource the cluster API serves: its names
// for discovery, how Kubernetes defaults and validates it, its table columns
// for kubectl get, and the fields its field selectors may name. The API
// server's machinery (cluster/apiserver) is generic over these descriptions.
package kinds

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kind is one served resource.
type Kind struct {
	// GVK is the group, version and kind (apps/v1 Deployment).
	GVK schema.GroupVersionKind
	// Resource is the lower-case plural of the URL path ("deployments").
	Resource string
	// Singular is the lower-case singular name ("deployment").
	Singular string
	// ShortNames are what kubectl accepts instead ("deploy").
	ShortNames []string
	// Categories group resources for kubectl ("all").
	Categories []string
	// Namespaced kinds live in a namespace; the others are cluster-wide.
	Namespaced bool

	// New and NewList make empty typed objects (&corev1.Pod{},
	// &corev1.PodList{}), registered in client-go's scheme.
	New     func() runtime.Object
	NewList func() runtime.Object

	// HasStatus kinds serve a /status subresource: writes to the object
	// keep the stored status, writes to /status keep everything else.
	HasStatus bool
	// Scale, when set, serves /scale (autoscaling/v1 Scale).
	Scale *ScaleAccess

	// Default fills unset fields as Kubernetes does, on create and update.
	Default func(obj runtime.Object)
	// Validate checks an object about to be stored; old is nil on create.
	// Fields drover does not serve are refused here by name
	// (field.Forbidden), never silently dropped.
	Validate func(obj, old runtime.Object) field.ErrorList

	// Columns and Row render server-side tables (kubectl get): Row returns
	// one cell per column, now is the time ages are measured against.
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object, now time.Time) []interface{}

	// Fields returns the fields a field selector may name besides
	// metadata.name and metadata.namespace (spec.nodeName, status.phase).
	Fields func(obj runtime.Object) fields.Set
}

// ScaleAccess reads and writes the replica count behind /scale.
type ScaleAccess struct {
	// Get returns the desired and current replicas and the label selector
	// in its string form.
	Get func(obj runtime.Object) (spec, status int32, selector string)
	// Set sets the desired replicas.
	Set func(obj runtime.Object, replicas int32)
}
