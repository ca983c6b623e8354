package kinds

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Priorities above this are kept for the system's own classes.
const (
	highestUserDefinablePriority = 1000000000
	systemPriorityClassPrefix    = "system-"
)

// SystemPriorityClasses are the classes Kubernetes creates at start, the
// only ones allowed the system- prefix and a value above a billion.
var SystemPriorityClasses = map[string]int32{
	"system-node-critical":    2000001000,
	"system-cluster-critical": 2000000000,
}

func priorityClassKind() *Kind {
	pc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return &Kind{
		GVK:        schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"),
		Resource:   "priorityclasses",
		Singular:   "priorityclass",
		ShortNames: []string{"pc"},
		New:        func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList:    func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Default:    func(obj runtime.Object) { DefaultPriorityClass(obj.(*schedulingv1.PriorityClass)) },
		Validate:   validatePriorityClass,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Value", Type: "integer", Description: pc["value"]},
			{Name: "Global-Default", Type: "boolean", Description: pc["globalDefault"]},
			ageColumn,
			{Name: "PreemptionPolicy", Type: "string", Description: pc["preemptionPolicy"]},
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			c := obj.(*schedulingv1.PriorityClass)
			policy := ""
			if c.PreemptionPolicy != nil {
				policy = string(*c.PreemptionPolicy)
			}
			return []interface{}{c.Name, int64(c.Value), c.GlobalDefault, age(c.CreationTimestamp, now), policy}
		},
	}
}

// DefaultPriorityClass lets a class's pods preempt lower ones unless it
// says Never.
func DefaultPriorityClass(c *schedulingv1.PriorityClass) {
	if c.PreemptionPolicy == nil {
		c.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
	}
}

func validatePriorityClass(obj, old runtime.Object) field.ErrorList {
	c, ok := obj.(*schedulingv1.PriorityClass)
	if !ok {
		return typeError("priorityclass", obj)
	}
	var oldC *schedulingv1.PriorityClass
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		if oldC, ok = old.(*schedulingv1.PriorityClass); !ok {
			return typeError("priorityclass", old)
		}
		oldMeta = &oldC.ObjectMeta
	}
	errs := validateMeta(&c.ObjectMeta, oldMeta, false, apivalidation.NameIsDNSSubdomain)
	if v, system := SystemPriorityClasses[c.Name]; system {
		if c.Value != v {
			errs = append(errs, field.Forbidden(field.NewPath("value"), "value of a system priority class may not be changed"))
		}
	} else {
		if strings.HasPrefix(c.Name, systemPriorityClassPrefix) {
			errs = append(errs, field.Forbidden(metadataPath.Child("name"), "priority class names with '"+systemPriorityClassPrefix+"' prefix are reserved for system use only"))
		}
		if c.Value > highestUserDefinablePriority {
			errs = append(errs, field.Forbidden(field.NewPath("value"), "maximum allowed value of a user defined priority is 1000000000"))
		}
	}
	if p := c.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p, []string{string(corev1.PreemptLowerPriority), string(corev1.PreemptNever)}))
	}
	if oldC != nil {
		if c.Value != oldC.Value {
			errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
		}
		errs = append(errs, validateImmutable(c.PreemptionPolicy, oldC.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

// ResolvePodPriority does what Kubernetes' priority admission does when a
// pod is created: it sets the pod's priority and preemption policy from
// its priority class, or from the cluster's global default class when it
// names none (call it before Default, which would set priority 0). lookup
// returns the class of a name; classes lists them all, for the default.
// The error is a field error for the pod's spec.
func ResolvePodPriority(pod *corev1.Pod, lookup func(name string) (*schedulingv1.PriorityClass, bool), classes []*schedulingv1.PriorityClass) field.ErrorList {
	p := field.NewPath("spec")
	var class *schedulingv1.PriorityClass
	if name := pod.Spec.PriorityClassName; name != "" {
		c, ok := lookup(name)
		if !ok {
			return field.ErrorList{field.NotFound(p.Child("priorityClassName"), name)}
		}
		class = c
	} else {
		for _, c := range classes {
			if c.GlobalDefault && (class == nil || c.Value < class.Value) {
				class = c // with several, Kubernetes takes the lowest
			}
		}
	}
	value, policy := int32(0), corev1.PreemptLowerPriority
	if class != nil {
		value = class.Value
		if class.PreemptionPolicy != nil {
			policy = *class.PreemptionPolicy
		}
		pod.Spec.PriorityClassName = class.Name
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return field.ErrorList{field.Forbidden(p.Child("priority"), fmt.Sprintf(
			"the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))}
	}
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
		return field.ErrorList{field.Forbidden(p.Child("preemptionPolicy"), fmt.Sprintf(
			"the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, policy))}
	}
	pod.Spec.Priority = &value
	pod.Spec.PreemptionPolicy = &policy
	return nil
}
