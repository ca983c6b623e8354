package kinds

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"strconv"
)

func replicaSetKind() *Kind {
	return &Kind{
		GVK:        appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		Resource:   "replicasets",
		Singular:   "replicaset",
		ShortNames: []string{"rs"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:    func() runtime.Object { return &appsv1.ReplicaSetList{} },
		HasStatus:  true,
		Scale: &ScaleAccess{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return deref(rs.Spec.Replicas, 1), rs.Status.Replicas, selectorQuery(rs.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
		Default:  func(obj runtime.Object) { DefaultReplicaSet(obj.(*appsv1.ReplicaSet)) },
		Validate: validateReplicaSet,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Desired", Type: "integer", Description: appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
			{Name: "Current", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
			{Name: "Ready", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
			ageColumn, containersColumn, imagesColumn,
			selectorColumn(appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			rs := obj.(*appsv1.ReplicaSet)
			containers, images := containersAndImages(rs.Spec.Template.Spec.Containers)
			return []interface{}{
				rs.Name,
				int64(deref(rs.Spec.Replicas, 0)),
				int64(rs.Status.Replicas),
				int64(rs.Status.ReadyReplicas),
				age(rs.CreationTimestamp, now),
				containers, images, selectorString(rs.Spec.Selector),
			}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
		},
	}
}

// DefaultReplicaSet applies apps/v1's replica set defaults.
func DefaultReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptr(int32(1))
	}
	DefaultPodSpec(&rs.Spec.Template.Spec)
}

func validateReplicaSet(obj, old runtime.Object) field.ErrorList {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return typeError("replicaset", obj)
	}
	var oldRS *appsv1.ReplicaSet
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		if oldRS, ok = old.(*appsv1.ReplicaSet); !ok {
			return typeError("replicaset", old)
		}
		oldMeta = &oldRS.ObjectMeta
	}
	spec := field.NewPath("spec")
	errs := validateMeta(&rs.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateReplicas(rs.Spec.Replicas, spec.Child("replicas"))...)
	errs = append(errs, validateNonNegative(int64(rs.Spec.MinReadySeconds), spec.Child("minReadySeconds"))...)
	errs = append(errs, validateWorkloadSelector("deployment", rs.Spec.Selector, rs.Spec.Template.Labels, spec)...)
	errs = append(errs, validateTemplate(&rs.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateLongRunningTemplate(&rs.Spec.Template, spec.Child("template"))...)
	if oldRS != nil {
		errs = append(errs, validateImmutable(rs.Spec.Selector, oldRS.Spec.Selector, spec.Child("selector"))...)
	}
	return errs
}
