package kinds

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func podKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Pod"),
		Resource:   "pods",
		Singular:   "pod",
		ShortNames: []string{"po"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Pod{} },
		NewList:    func() runtime.Object { return &corev1.PodList{} },
		HasStatus:  true,
		Default:    func(obj runtime.Object) { DefaultPod(obj.(*corev1.Pod)) },
		Validate:   validatePod,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
			{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
			{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
			ageColumn,
			{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
			{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
			{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
			{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
		},
		Row:    func(obj runtime.Object, now time.Time) []interface{} { return podRow(obj.(*corev1.Pod), now) },
		Fields: func(obj runtime.Object) fields.Set { return podFields(obj.(*corev1.Pod)) },
	}
}

// DefaultPod applies Kubernetes' pod defaults. A pod without a priority
// class gets priority 0; one with a class is left for the server to
// resolve against the PriorityClass.
func DefaultPod(pod *corev1.Pod) {
	DefaultPodSpec(&pod.Spec)
	if pod.Spec.Priority == nil && pod.Spec.PriorityClassName == "" {
		pod.Spec.Priority = ptr(int32(0))
	}
	if pod.Status.Phase == "" {
		pod.Status.Phase = corev1.PodPending
	}
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = podQOSClass(&pod.Spec)
	}
}

func validatePod(obj, old runtime.Object) field.ErrorList {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return typeError("pod", obj)
	}
	var oldPod *corev1.Pod
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		if oldPod, ok = old.(*corev1.Pod); !ok {
			return typeError("pod", old)
		}
		oldMeta = &oldPod.ObjectMeta
	}
	specPath := field.NewPath("spec")
	errs := validateMeta(&pod.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, ValidatePodSpec(&pod.Spec, specPath)...)
	if oldPod != nil {
		errs = append(errs, validatePodSpecUpdate(&pod.Spec, &oldPod.Spec, specPath)...)
	}
	return errs
}

// ValidateBinding checks a binding of the pod to a node (the /binding
// subresource): the only way spec.nodeName changes once a pod exists.
func ValidateBinding(pod *corev1.Pod, nodeName string) field.ErrorList {
	p := field.NewPath("target", "name")
	if nodeName == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != nodeName {
		return field.ErrorList{field.Invalid(p, nodeName, fmt.Sprintf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))}
	}
	if pod.DeletionTimestamp != nil {
		return field.ErrorList{field.Forbidden(p, fmt.Sprintf("pod %s is being deleted, cannot be assigned to a host", pod.Name))}
	}
	return nil
}

func podFields(pod *corev1.Pod) fields.Set {
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	} else {
		podIP = pod.Status.PodIP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}
