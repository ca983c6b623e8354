package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// podInfo is a pod with what the scheduler derives from it once: requests,
// priority, parsed affinity terms.
type podInfo struct {
	pod      *corev1.Pod
	key      string
	ns       string
	labels   map[string]string
	priority int32

	req        resources
	nonZeroCPU int64
	nonZeroMem int64
	terms      podTerms

	// Placement, while the pod is in the cache.
	node    *nodeInfo
	slot    int
	assumed bool
	groups  []*termGroup // existing-pod term groups this pod counts in

	nominatedTo string // for nominated (pending) pods
}

// PodKey is how the scheduler names a pod: namespace/name.
func PodKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func newPodInfo(pod *corev1.Pod) *podInfo {
	p := &podInfo{
		pod:      pod,
		key:      PodKey(pod),
		ns:       pod.Namespace,
		labels:   pod.Labels,
		priority: corev1helpers.PodPriority(pod),
		terms:    parsePodTerms(pod),
	}
	p.req, p.nonZeroCPU, p.nonZeroMem = podRequests(pod)
	return p
}
