package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Requests of containers that set none still take room when scoring, as
// kube-scheduler counts them, so that empty pods do not all pile onto one node.
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// resources is the part of a ResourceList the scheduler accounts for, in
// integers so the hot path does no Quantity arithmetic.
type resources struct {
	milliCPU  int64
	memory    int64
	ephemeral int64
	// scalar holds extended resources and hugepages; nil for most pods.
	scalar map[corev1.ResourceName]int64
}

func resourcesFromList(rl corev1.ResourceList) resources {
	var r resources
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeral = q.Value()
		case corev1.ResourcePods:
			// counted apart, as a number of pods
		default:
			if isScalarResource(name) {
				if r.scalar == nil {
					r.scalar = map[corev1.ResourceName]int64{}
				}
				r.scalar[name] = q.Value()
			}
		}
	}
	return r
}

func isScalarResource(name corev1.ResourceName) bool {
	s := string(name)
	if len(s) > len(corev1.ResourceHugePagesPrefix) && s[:len(corev1.ResourceHugePagesPrefix)] == corev1.ResourceHugePagesPrefix {
		return true
	}
	// Extended resources are domain-qualified (example.com/gpu); the native
	// ones are not, apart from kubernetes.io/ ones that are not extended.
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return !(s[:i] == "kubernetes.io" || len(s[:i]) > len(".kubernetes.io") && s[i-len(".kubernetes.io"):i] == ".kubernetes.io")
		}
	}
	return false
}

func (r *resources) add(o *resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.ephemeral += o.ephemeral
	for k, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[corev1.ResourceName]int64{}
		}
		r.scalar[k] += v
	}
}

func (r *resources) sub(o *resources) {
	r.milliCPU -= o.milliCPU
	r.memory -= o.memory
	r.ephemeral -= o.ephemeral
	for k, v := range o.scalar {
		if r.scalar != nil {
			r.scalar[k] -= v
		}
	}
}

func (r *resources) isZero() bool {
	if r.milliCPU != 0 || r.memory != 0 || r.ephemeral != 0 {
		return false
	}
	for _, v := range r.scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// podRequests is what the pod takes on a node: the larger of its containers'
// sum and any one init container (restartable sidecars accumulate), plus
// overhead and pod-level requests, as Kubernetes computes effective requests.
// It also returns the cpu and memory used for scoring, where defaults stand
// in for containers that request nothing.
func podRequests(pod *corev1.Pod) (req resources, nonZeroCPU, nonZeroMem int64) {
	if simplePod(pod) {
		// Plain containers only: the sum, without the helper's maps.
		for i := range pod.Spec.Containers {
			rl := pod.Spec.Containers[i].Resources.Requests
			var c resources
			if len(rl) > 0 {
				c = resourcesFromList(rl)
				req.add(&c)
			}
			if _, ok := rl[corev1.ResourceCPU]; ok {
				nonZeroCPU += c.milliCPU
			} else {
				nonZeroCPU += defaultMilliCPURequest
			}
			if _, ok := rl[corev1.ResourceMemory]; ok {
				nonZeroMem += c.memory
			} else {
				nonZeroMem += defaultMemoryRequest
			}
		}
		return req, nonZeroCPU, nonZeroMem
	}
	req = resourcesFromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	rl := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{
		NonMissingContainerRequests: nonMissing,
	})
	return req, rl.Cpu().MilliValue(), rl.Memory().Value()
}

func simplePod(pod *corev1.Pod) bool {
	return len(pod.Spec.InitContainers) == 0 && pod.Spec.Overhead == nil && pod.Spec.Resources == nil &&
		len(pod.Status.ContainerStatuses) == 0 && len(pod.Spec.ResourceClaims) == 0
}

var nonMissing = corev1.ResourceList{
	corev1.ResourceCPU:    *resourceQuantityMilli(defaultMilliCPURequest),
	corev1.ResourceMemory: *resourceQuantity(defaultMemoryRequest),
}
