package kinds

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// namespaceNameLabel carries every namespace's name, so selectors can pick
// namespaces by name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

func namespaceKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Namespace"),
		Resource:   "namespaces",
		Singular:   "namespace",
		ShortNames: []string{"ns"},
		New:        func() runtime.Object { return &corev1.Namespace{} },
		NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
		HasStatus:  true,
		Default:    func(obj runtime.Object) { DefaultNamespace(obj.(*corev1.Namespace)) },
		Validate:   validateNamespace,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Status", Type: "string", Description: "The status of the namespace"},
			ageColumn,
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			ns := obj.(*corev1.Namespace)
			return []interface{}{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
	}
}

// DefaultNamespace labels the namespace with its name and, when it is
// new (no phase yet), gives it the kubernetes finalizer and phase Active.
// The finalizer is not put back on later updates: the namespace
// controller removes it to let a terminating namespace go.
func DefaultNamespace(ns *corev1.Namespace) {
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[namespaceNameLabel] = ns.Name
	if ns.Status.Phase == "" {
		if len(ns.Spec.Finalizers) == 0 {
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
		ns.Status.Phase = corev1.NamespaceActive
	}
}

func validateNamespace(obj, old runtime.Object) field.ErrorList {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return typeError("namespace", obj)
	}
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		oldNS, ok := old.(*corev1.Namespace)
		if !ok {
			return typeError("namespace", old)
		}
		oldMeta = &oldNS.ObjectMeta
	}
	errs := validateMeta(&ns.ObjectMeta, oldMeta, false, apivalidation.ValidateNamespaceName)
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	switch ns.Status.Phase {
	case "", corev1.NamespaceActive, corev1.NamespaceTerminating:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("status", "phase"), ns.Status.Phase, []string{string(corev1.NamespaceActive), string(corev1.NamespaceTerminating)}))
	}
	return errs
}
