package kinds

import (
	"fmt"
	"reflect"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// notServed is the detail of every refusal of a field drover does not
// implement, so users and tests can recognise it.
const notServed = "not supported by drover"

func forbidden(p *field.Path) *field.Error { return field.Forbidden(p, notServed) }

var metadataPath = field.NewPath("metadata")

// validateMeta checks the object's metadata on create, and on update also
// what may not change (name, namespace, uid, creationTimestamp).
func validateMeta(meta, old *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(meta, namespaced, nameFn, metadataPath)
	if old != nil {
		errs = append(errs, apivalidation.ValidateObjectMetaUpdate(meta, old, metadataPath)...)
	}
	return errs
}

// validateWorkloadSelector checks a controller's selector: present, not
// empty, well formed, and selecting the pod template's labels, as
// Kubernetes requires of apps/v1 and batch/v1 workloads.
func validateWorkloadSelector(kind string, sel *metav1.LabelSelector, templateLabels map[string]string, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	p := specPath.Child("selector")
	if sel == nil {
		return append(errs, field.Required(p, ""))
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)...)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p, sel, "empty selector is invalid for "+kind))
		return errs
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return errs // reported above
	}
	if !s.Matches(labels.Set(templateLabels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), templateLabels,
			"`selector` does not match template `labels`"))
	}
	return errs
}

// validateImmutable reports the field when it changed on update.
func validateImmutable(newVal, oldVal interface{}, p *field.Path) field.ErrorList {
	if reflect.DeepEqual(newVal, oldVal) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, newVal, "field is immutable")}
}

func validateNonNegative(v int64, p *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(p, v, "must be greater than or equal to 0")}
	}
	return nil
}

func validatePositive(v int64, p *field.Path) field.ErrorList {
	if v <= 0 {
		return field.ErrorList{field.Invalid(p, v, "must be greater than 0")}
	}
	return nil
}

// typeError is what Validate returns when handed an object of another
// kind: a bug in the caller, reported rather than panicking the server.
func typeError(want string, got interface{}) field.ErrorList {
	return field.ErrorList{field.InternalError(field.NewPath(""), fmt.Errorf("validate %s: got %T", want, got))}
}

func validateLabelsAt(l map[string]string, p *field.Path) field.ErrorList {
	return metav1validation.ValidateLabels(l, p)
}
