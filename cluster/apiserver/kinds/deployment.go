package kinds

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func deploymentKind() *Kind {
	return &Kind{
		GVK:        appsv1.SchemeGroupVersion.WithKind("Deployment"),
		Resource:   "deployments",
		Singular:   "deployment",
		ShortNames: []string{"deploy"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.Deployment{} },
		NewList:    func() runtime.Object { return &appsv1.DeploymentList{} },
		HasStatus:  true,
		Scale: &ScaleAccess{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return deref(d.Spec.Replicas, 1), d.Status.Replicas, selectorQuery(d.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
		Default:  func(obj runtime.Object) { DefaultDeployment(obj.(*appsv1.Deployment)) },
		Validate: validateDeployment,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			{Name: "Up-to-date", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
			{Name: "Available", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]},
			ageColumn, containersColumn, imagesColumn,
			selectorColumn(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			d := obj.(*appsv1.Deployment)
			containers, images := containersAndImages(d.Spec.Template.Spec.Containers)
			return []interface{}{
				d.Name,
				fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, deref(d.Spec.Replicas, 0)),
				int64(d.Status.UpdatedReplicas),
				int64(d.Status.AvailableReplicas),
				age(d.CreationTimestamp, now),
				containers, images, selectorString(d.Spec.Selector),
			}
		},
	}
}

// DefaultDeployment applies apps/v1's deployment defaults and the pod
// template's.
func DefaultDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr(int32(1))
	}
	st := &d.Spec.Strategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if st.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = intOrPercent("25%")
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = intOrPercent("25%")
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr(int32(10))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptr(int32(600))
	}
	DefaultPodSpec(&d.Spec.Template.Spec)
}

func validateDeployment(obj, old runtime.Object) field.ErrorList {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return typeError("deployment", obj)
	}
	var oldD *appsv1.Deployment
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		if oldD, ok = old.(*appsv1.Deployment); !ok {
			return typeError("deployment", old)
		}
		oldMeta = &oldD.ObjectMeta
	}
	spec := field.NewPath("spec")
	errs := validateMeta(&d.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateReplicas(d.Spec.Replicas, spec.Child("replicas"))...)
	errs = append(errs, validateWorkloadSelector("deployment", d.Spec.Selector, d.Spec.Template.Labels, spec)...)
	errs = append(errs, validateTemplate(&d.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateLongRunningTemplate(&d.Spec.Template, spec.Child("template"))...)
	st := d.Spec.Strategy
	sp := spec.Child("strategy")
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(sp.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if st.RollingUpdate == nil {
			errs = append(errs, field.Required(sp.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		} else {
			errs = append(errs, validateSurgeUnavailable(st.RollingUpdate.MaxSurge, st.RollingUpdate.MaxUnavailable, sp.Child("rollingUpdate"))...)
		}
	default:
		errs = append(errs, field.NotSupported(sp.Child("type"), st.Type, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	if d.Spec.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonNegative(int64(*d.Spec.RevisionHistoryLimit), spec.Child("revisionHistoryLimit"))...)
	}
	if d.Spec.ProgressDeadlineSeconds != nil {
		errs = append(errs, validatePositive(int64(*d.Spec.ProgressDeadlineSeconds), spec.Child("progressDeadlineSeconds"))...)
		if *d.Spec.ProgressDeadlineSeconds <= d.Spec.MinReadySeconds {
			errs = append(errs, field.Invalid(spec.Child("progressDeadlineSeconds"), *d.Spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	errs = append(errs, validateNonNegative(int64(d.Spec.MinReadySeconds), spec.Child("minReadySeconds"))...)
	if oldD != nil {
		errs = append(errs, validateImmutable(d.Spec.Selector, oldD.Spec.Selector, spec.Child("selector"))...)
	}
	return errs
}

func validateReplicas(r *int32, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	return validateNonNegative(int64(*r), p)
}

// validateTemplate checks a workload's pod template: its labels and its
// pod spec, with what drover does not serve refused by name.
func validateTemplate(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	errs := apivalidation.ValidateAnnotations(t.Annotations, p.Child("metadata", "annotations"))
	errs = append(errs, validateLabelsAt(t.Labels, p.Child("metadata", "labels"))...)
	errs = append(errs, ValidatePodSpec(&t.Spec, p.Child("spec"))...)
	return errs
}

// validateLongRunningTemplate checks what a template of pods meant to run
// until replaced must say: restart Always, no deadline.
func validateLongRunningTemplate(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rp := t.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("spec", "activeDeadlineSeconds"), *t.Spec.ActiveDeadlineSeconds, "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return errs
}

// validateSurgeUnavailable checks a rolling update's bounds: each an
// integer >= 0 or a percentage up to 100%, not both zero.
func validateSurgeUnavailable(surge, unavailable *intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateIntOrPercent(surge, p.Child("maxSurge"))...)
	errs = append(errs, validateIntOrPercent(unavailable, p.Child("maxUnavailable"))...)
	if unavailable != nil && unavailable.Type == intstr.String {
		if v, err := intstr.GetScaledValueFromIntOrPercent(unavailable, 100, true); err == nil && v > 100 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), unavailable.String(), "must not be greater than 100%"))
		}
	}
	if isZero(surge) && isZero(unavailable) {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), unavailable.String(), "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

func validateIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v.StrVal, msg))
		}
		return errs
	}
	return validateNonNegative(int64(v.IntVal), p)
}

func isZero(v *intstr.IntOrString) bool {
	if v == nil {
		return true
	}
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, true)
	return err == nil && n == 0
}

func deref(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// selectorQuery is a selector in the string form /scale reports.
func selectorQuery(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}
