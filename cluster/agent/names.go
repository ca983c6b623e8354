package agent

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover/drover/api"
)

// Labels on the engine's pods and containers: what a restarted agent adopts them by.
const (
	labelNode      = "cluster.drover.io/node"
	labelNamespace = "cluster.drover.io/pod-namespace"
	labelName      = "cluster.drover.io/pod-name"
	labelUID       = "cluster.drover.io/pod-uid"
	labelContainer = "cluster.drover.io/container"
	labelAttempt   = "cluster.drover.io/attempt"
	labelInit      = "cluster.drover.io/init"
)

// enginePodName is the engine pod of an API pod: unique (the UID's start) and readable.
func enginePodName(pod *corev1.Pod) string {
	return "k8s_" + pod.Name + "_" + pod.Namespace + "_" + shortUID(string(pod.UID))
}

// engineContainerName names one attempt (0, 1, ...) of a container of a pod.
func engineContainerName(pod *corev1.Pod, container string, attempt int) string {
	return "k8s_" + container + "_" + pod.Name + "_" + pod.Namespace + "_" + shortUID(string(pod.UID)) + "_" + strconv.Itoa(attempt)
}

func shortUID(uid string) string {
	if len(uid) > 8 {
		return uid[:8]
	}
	return uid
}

// podLabels are the labels of a pod's engine objects.
func (a *Agent) podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{
		labelNode:      a.cfg.NodeName,
		labelNamespace: pod.Namespace,
		labelName:      pod.Name,
		labelUID:       string(pod.UID),
	}
}

// attemptOf is the attempt number of an engine container (-1 if it has none).
func attemptOf(c *api.Container) int {
	n, err := strconv.Atoi(c.Config.Labels[labelAttempt])
	if err != nil {
		return -1
	}
	return n
}
