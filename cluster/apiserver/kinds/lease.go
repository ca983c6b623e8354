package kinds

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func leaseKind() *Kind {
	return &Kind{
		GVK:        coordinationv1.SchemeGroupVersion.WithKind("Lease"),
		Resource:   "leases",
		Singular:   "lease",
		Namespaced: true,
		New:        func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:    func() runtime.Object { return &coordinationv1.LeaseList{} },
		Default:    func(runtime.Object) {},
		Validate:   validateLease,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
			ageColumn,
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			l := obj.(*coordinationv1.Lease)
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []interface{}{l.Name, holder, age(l.CreationTimestamp, now)}
		},
	}
}

func validateLease(obj, old runtime.Object) field.ErrorList {
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return typeError("lease", obj)
	}
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		oldL, ok := old.(*coordinationv1.Lease)
		if !ok {
			return typeError("lease", old)
		}
		oldMeta = &oldL.ObjectMeta
	}
	spec := field.NewPath("spec")
	errs := validateMeta(&l.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	if d := l.Spec.LeaseDurationSeconds; d != nil {
		errs = append(errs, validatePositive(int64(*d), spec.Child("leaseDurationSeconds"))...)
	}
	if t := l.Spec.LeaseTransitions; t != nil {
		errs = append(errs, validateNonNegative(int64(*t), spec.Child("leaseTransitions"))...)
	}
	return errs
}
