package kinds

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func daemonSetKind() *Kind {
	return &Kind{
		GVK:        appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
		Resource:   "daemonsets",
		Singular:   "daemonset",
		ShortNames: []string{"ds"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList:    func() runtime.Object { return &appsv1.DaemonSetList{} },
		HasStatus:  true,
		Default:    func(obj runtime.Object) { DefaultDaemonSet(obj.(*appsv1.DaemonSet)) },
		Validate:   validateDaemonSet,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Desired", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]},
			{Name: "Current", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]},
			{Name: "Ready", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]},
			{Name: "Up-to-date", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]},
			{Name: "Available", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]},
			{Name: "Node Selector", Type: "string", Description: "NodeSelector is a selector which must be true for the pod to fit on a node."},
			ageColumn, containersColumn, imagesColumn,
			selectorColumn(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			ds := obj.(*appsv1.DaemonSet)
			containers, images := containersAndImages(ds.Spec.Template.Spec.Containers)
			return []interface{}{
				ds.Name,
				int64(ds.Status.DesiredNumberScheduled),
				int64(ds.Status.CurrentNumberScheduled),
				int64(ds.Status.NumberReady),
				int64(ds.Status.UpdatedNumberScheduled),
				int64(ds.Status.NumberAvailable),
				formatLabels(ds.Spec.Template.Spec.NodeSelector),
				age(ds.CreationTimestamp, now),
				containers, images, selectorString(ds.Spec.Selector),
			}
		},
	}
}

// DefaultDaemonSet applies apps/v1's daemon set defaults: a rolling
// update one node at a time, without surge.
func DefaultDaemonSet(ds *appsv1.DaemonSet) {
	st := &ds.Spec.UpdateStrategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if st.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = intOrInt(1)
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = intOrInt(0)
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = ptr(int32(10))
	}
	DefaultPodSpec(&ds.Spec.Template.Spec)
}

func validateDaemonSet(obj, old runtime.Object) field.ErrorList {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return typeError("daemonset", obj)
	}
	var oldDS *appsv1.DaemonSet
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		if oldDS, ok = old.(*appsv1.DaemonSet); !ok {
			return typeError("daemonset", old)
		}
		oldMeta = &oldDS.ObjectMeta
	}
	spec := field.NewPath("spec")
	errs := validateMeta(&ds.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateWorkloadSelector("daemonset", ds.Spec.Selector, ds.Spec.Template.Labels, spec)...)
	errs = append(errs, validateTemplate(&ds.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateLongRunningTemplate(&ds.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateNonNegative(int64(ds.Spec.MinReadySeconds), spec.Child("minReadySeconds"))...)
	if ds.Spec.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonNegative(int64(*ds.Spec.RevisionHistoryLimit), spec.Child("revisionHistoryLimit"))...)
	}
	st := ds.Spec.UpdateStrategy
	sp := spec.Child("updateStrategy")
	switch st.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if st.RollingUpdate == nil {
			errs = append(errs, field.Required(sp.Child("rollingUpdate"), ""))
		} else {
			errs = append(errs, validateSurgeUnavailable(st.RollingUpdate.MaxSurge, st.RollingUpdate.MaxUnavailable, sp.Child("rollingUpdate"))...)
		}
	default:
		errs = append(errs, field.NotSupported(sp.Child("type"), st.Type, []string{string(appsv1.OnDeleteDaemonSetStrategyType), string(appsv1.RollingUpdateDaemonSetStrategyType)}))
	}
	if oldDS != nil {
		errs = append(errs, validateImmutable(ds.Spec.Selector, oldDS.Spec.Selector, spec.Child("selector"))...)
	}
	return errs
}
