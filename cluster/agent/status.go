package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/api"
)

// mtime is t as the API stores it (whole seconds), so that what was sent compares
// equal to what comes back.
func mtime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// podStatus computes the pod's status from what the engine has.
func (w *podWorker) podStatus(pod *corev1.Pod, v *podView) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	if w.startTime == nil {
		if st.StartTime != nil {
			w.startTime = st.StartTime.DeepCopy()
		} else {
			t := mtime(time.Now())
			w.startTime = &t
		}
	}
	st.StartTime = w.startTime
	st.HostIP = w.a.cfg.Advertise
	st.HostIPs = nil
	if st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	st.PodIP, st.PodIPs = v.podIP, nil
	if v.podIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: v.podIP}}
	}
	st.InitContainerStatuses = nil
	for _, c := range v.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, containerStatus(c, false))
	}
	st.ContainerStatuses = nil
	for _, c := range v.ctrs {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c, shouldRestart(pod.Spec.RestartPolicy, 1)))
	}
	st.Phase = podPhase(pod, v)
	st.Reason, st.Message = "", ""
	allReady := len(v.ctrs) > 0
	for _, c := range st.ContainerStatuses {
		allReady = allReady && c.Ready
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	conds := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, v.sandboxReady && !terminal, ""),
		cond(corev1.PodInitialized, v.initDone || terminal && !v.initFailed, reasonIf(!v.initDone && !terminal, "ContainersNotInitialized")),
		cond(corev1.ContainersReady, allReady && !terminal, reasonIf(!allReady || terminal, "ContainersNotReady")),
		cond(corev1.PodReady, allReady && !terminal, reasonIf(!allReady || terminal, "ContainersNotReady")),
	}
	if terminal && st.Phase == corev1.PodSucceeded {
		conds[2].Reason, conds[3].Reason = "PodCompleted", "PodCompleted"
		conds[1].Reason = "PodCompleted"
	}
	// Keep the conditions others own (PodScheduled), and transition times that hold.
	var out []corev1.PodCondition
	for _, old := range pod.Status.Conditions {
		owned := false
		for _, c := range conds {
			owned = owned || c.Type == old.Type
		}
		if !owned {
			out = append(out, old)
		}
	}
	if !hasCondition(out, corev1.PodScheduled) {
		out = append([]corev1.PodCondition{cond(corev1.PodScheduled, true, "")}, out...)
	}
	for _, c := range conds {
		c.LastTransitionTime = mtime(time.Now())
		for _, old := range pod.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		if w.lastStatus != nil {
			for _, old := range w.lastStatus.Conditions {
				if old.Type == c.Type && old.Status == c.Status {
					c.LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		out = append(out, c)
	}
	st.Conditions = out
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	return st
}

func hasCondition(cs []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range cs {
		if c.Type == t {
			return true
		}
	}
	return false
}

func reasonIf(b bool, reason string) string {
	if b {
		return reason
	}
	return ""
}

func cond(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: t, Status: s, Reason: reason}
}

// podPhase is Kubernetes' phase of the pod from its containers' states.
func podPhase(pod *corev1.Pod, v *podView) corev1.PodPhase {
	if v.initFailed {
		return corev1.PodFailed
	}
	if !v.initDone {
		return corev1.PodPending
	}
	running, succeeded, failed, waiting := 0, 0, 0, 0
	for _, c := range v.ctrs {
		switch {
		case c.cur == nil:
			waiting++
		case c.cur.State.Running:
			running++
		case exited(c.cur) && c.waiting == "CrashLoopBackOff":
			running++ // restarting
		case exited(c.cur) && shouldRestart(pod.Spec.RestartPolicy, exitCode(c.cur)):
			running++ // restarting at the next sync
		case exited(c.cur) && exitCode(c.cur) == 0:
			succeeded++
		case exited(c.cur):
			failed++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case failed > 0:
		return corev1.PodFailed
	case succeeded > 0:
		return corev1.PodSucceeded
	}
	return corev1.PodPending
}

// containerStatus reports one container.
func containerStatus(c *ctrView, _ bool) corev1.ContainerStatus {
	s := corev1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image, Ready: c.ready, Started: &c.started}
	if c.prev != nil && exited(c.prev) {
		s.LastTerminationState = corev1.ContainerState{Terminated: terminated(c.prev)}
	}
	if c.cur == nil {
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting, Message: c.message}
		return s
	}
	s.ContainerID = "drover://" + c.cur.ID
	s.ImageID = c.cur.Image
	s.RestartCount = int32(max(attemptOf(c.cur), 0))
	switch {
	case c.cur.State.Running:
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: mtime(c.cur.State.StartedAt)}
	case exited(c.cur) && c.waiting != "" && c.waiting != "PodInitializing" && c.waiting != "ContainerCreating":
		// Ended, and waiting for its next attempt (back-off, image pull).
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting, Message: c.message}
		s.LastTerminationState = corev1.ContainerState{Terminated: terminated(c.cur)}
		f := false
		s.Started = &f
	case exited(c.cur):
		s.State.Terminated = terminated(c.cur)
		f := false
		s.Started = &f
	default:
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return s
}

func terminated(c *api.Container) *corev1.ContainerStateTerminated {
	code := exitCode(c)
	t := &corev1.ContainerStateTerminated{ExitCode: int32(code), ContainerID: "drover://" + c.ID,
		StartedAt: mtime(c.State.StartedAt), FinishedAt: mtime(c.State.FinishedAt)}
	switch {
	case c.State.OOMKilled:
		t.Reason = "OOMKilled"
	case c.State.StartedAt.IsZero() && c.State.Error != "":
		t.Reason, t.Message = "StartError", c.State.Error
	case code == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

// qosClass is the pod's QoS class from its containers' requests and limits.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			any = any || hasReq || hasLim
			if !hasLim || hasReq && req.Cmp(lim) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// report sends status when it differs from what was last sent.
func (w *podWorker) report(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) {
	if w.lastStatus != nil && equality.Semantic.DeepEqual(*w.lastStatus, st) {
		return
	}
	if w.lastStatus == nil && equality.Semantic.DeepEqual(pod.Status, st) {
		w.lastStatus = &st
		return
	}
	pod.Status = st
	updated, err := w.a.cfg.API.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		if ctx.Err() == nil {
			w.a.log.Warn("update pod status", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
		return
	}
	w.lastStatus = &st
	// The API's copy is the newest: a conflict on the next update is then only a real one.
	w.mu.Lock()
	if w.pod.ResourceVersion == pod.ResourceVersion || w.pod.ResourceVersion == "" {
		w.pod = updated
	}
	w.mu.Unlock()
}
