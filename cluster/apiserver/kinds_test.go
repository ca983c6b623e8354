package apiserver

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// testKinds are minimal descriptions of a few resources, standing in for
// kinds.All() in this package's tests.
func testKinds() []*kinds.Kind {
	nameCol := metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name"}
	ageCol := metav1.TableColumnDefinition{Name: "Age", Type: "string"}
	ageOf := func(o runtime.Object, now time.Time) string {
		return duration.HumanDuration(now.Sub(accessor(o).GetCreationTimestamp().Time))
	}
	return []*kinds.Kind{
		{
			GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Resource: "namespaces", Singular: "namespace",
			ShortNames: []string{"ns"}, HasStatus: true,
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} },
			Default: func(o runtime.Object) {
				ns := o.(*corev1.Namespace)
				if ns.Status.Phase == "" {
					ns.Status.Phase = corev1.NamespaceActive
				}
				if len(ns.Spec.Finalizers) == 0 {
					ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
				}
			},
			Validate: func(o, old runtime.Object) field.ErrorList { return nil },
			Columns:  []metav1.TableColumnDefinition{nameCol, {Name: "Status", Type: "string"}, ageCol},
			Row: func(o runtime.Object, now time.Time) []any {
				ns := o.(*corev1.Namespace)
				return []any{ns.Name, string(ns.Status.Phase), ageOf(o, now)}
			},
			Fields: func(o runtime.Object) fields.Set {
				return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
			},
		},
		{
			GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods", Singular: "pod",
			ShortNames: []string{"po"}, Categories: []string{"all"}, Namespaced: true, HasStatus: true,
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} },
			Default: func(o runtime.Object) {
				p := o.(*corev1.Pod)
				if p.Status.Phase == "" {
					p.Status.Phase = corev1.PodPending
				}
				for i := range p.Spec.Containers {
					if p.Spec.Containers[i].ImagePullPolicy == "" {
						p.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
					}
				}
			},
			Validate: func(o, old runtime.Object) field.ErrorList {
				p := o.(*corev1.Pod)
				var errs field.ErrorList
				if old != nil && old.(*corev1.Pod).Spec.NodeName != p.Spec.NodeName {
					errs = append(errs, field.Forbidden(field.NewPath("spec"), "pod updates may not change fields other than `spec.containers[*].image`"))
				}
				if len(p.Spec.Containers) == 0 {
					errs = append(errs, field.Required(field.NewPath("spec", "containers"), ""))
				}
				for i, c := range p.Spec.Containers {
					if c.Image == "" {
						errs = append(errs, field.Required(field.NewPath("spec", "containers").Index(i).Child("image"), ""))
					}
				}
				return errs
			},
			Columns: []metav1.TableColumnDefinition{nameCol, {Name: "Status", Type: "string"}, ageCol, {Name: "Node", Type: "string", Priority: 1}},
			Row: func(o runtime.Object, now time.Time) []any {
				p := o.(*corev1.Pod)
				st := string(p.Status.Phase)
				if p.DeletionTimestamp != nil {
					st = "Terminating"
				}
				node := p.Spec.NodeName
				if node == "" {
					node = "<none>"
				}
				return []any{p.Name, st, ageOf(o, now), node}
			},
			Fields: func(o runtime.Object) fields.Set {
				p := o.(*corev1.Pod)
				return fields.Set{"spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase)}
			},
		},
		{
			GVK: corev1.SchemeGroupVersion.WithKind("Node"), Resource: "nodes", Singular: "node",
			ShortNames: []string{"no"}, HasStatus: true,
			New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} },
		},
		{
			GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Resource: "deployments", Singular: "deployment",
			ShortNames: []string{"deploy"}, Categories: []string{"all"}, Namespaced: true, HasStatus: true,
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
			Scale: &kinds.ScaleAccess{
				Get: func(o runtime.Object) (int32, int32, string) {
					d := o.(*appsv1.Deployment)
					sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
					s := ""
					if sel != nil {
						s = sel.String()
					}
					return *d.Spec.Replicas, d.Status.Replicas, s
				},
				Set: func(o runtime.Object, n int32) { o.(*appsv1.Deployment).Spec.Replicas = &n },
			},
			Default: func(o runtime.Object) {
				d := o.(*appsv1.Deployment)
				if d.Spec.Replicas == nil {
					one := int32(1)
					d.Spec.Replicas = &one
				}
			},
			Validate: func(o, old runtime.Object) field.ErrorList {
				d := o.(*appsv1.Deployment)
				if d.Spec.Selector == nil {
					return field.ErrorList{field.Required(field.NewPath("spec", "selector"), "")}
				}
				return nil
			},
			Columns: []metav1.TableColumnDefinition{nameCol, {Name: "Ready", Type: "string"}, ageCol},
			Row: func(o runtime.Object, now time.Time) []any {
				d := o.(*appsv1.Deployment)
				return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, *d.Spec.Replicas), ageOf(o, now)}
			},
		},
		{
			GVK: schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"), Resource: "priorityclasses", Singular: "priorityclass",
			ShortNames: []string{"pc"},
			New:        func() runtime.Object { return &schedulingv1.PriorityClass{} }, NewList: func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		},
		{
			GVK: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Resource: "leases", Singular: "lease", Namespaced: true,
			New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		},
		{
			GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Resource: "configmaps", Singular: "configmap",
			ShortNames: []string{"cm"}, Namespaced: true,
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
		},
	}
}
