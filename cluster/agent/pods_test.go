package agent

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/rest"

	"github.com/drover/drover/api"
	"github.com/drover/drover/cluster/kube"
	"github.com/drover/drover/cluster/kube/kubefake"
	"github.com/drover/drover/internal/testutil"
)

// TestPods runs pods through the agent on a real engine: each subtest is one pod.
func TestPods(t *testing.T) {
	h := newHarness(t)
	h.waitSynced()
	ctx := context.Background()

	t.Run("running pod reports its IP and ready containers", func(t *testing.T) {
		pod := h.create(newPod("sleeper", corev1.RestartPolicyAlways, "sleep", "3600"))
		p := h.waitPod(pod, "Running and ready", running)
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !netip.MustParsePrefix(h.subnet).Contains(ip) {
			t.Fatalf("podIP %q is not in the node's podCIDR %s", p.Status.PodIP, h.subnet)
		}
		cs := p.Status.ContainerStatuses[0]
		if !strings.HasPrefix(cs.ContainerID, "drover://") || cs.RestartCount != 0 || cs.ImageID == "" || cs.Started == nil || !*cs.Started {
			t.Fatalf("container status = %+v", cs)
		}
		if p.Status.StartTime == nil || p.Status.HostIP != "127.0.0.1" {
			t.Fatalf("startTime %v, hostIP %q", p.Status.StartTime, p.Status.HostIP)
		}
		for _, want := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			if !conditionTrue(p, want) {
				t.Errorf("condition %s is not True: %+v", want, p.Status.Conditions)
			}
		}
		ep, err := h.engine.PodInspect(ctx, enginePodName(p))
		if err != nil || ep.Labels[labelUID] != string(p.UID) || ep.Labels[labelName] != "sleeper" || ep.Labels[labelNamespace] != "default" {
			t.Fatalf("engine pod %+v, %v", ep, err)
		}
	})

	t.Run("hostNetwork pod has the node's IP and the host's interfaces", func(t *testing.T) {
		pod := newPod("hostnet", corev1.RestartPolicyAlways, "sleep", "3600")
		pod.Spec.HostNetwork = true
		pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("96Mi")}
		p := h.waitPod(h.create(pod), "Running and ready", running)
		if p.Status.PodIP != "127.0.0.1" {
			t.Fatalf("podIP = %q, want the node's 127.0.0.1", p.Status.PodIP)
		}
		id := h.containerID(p, "main")
		// The host's network: the test daemon's bridges are visible.
		if code, err := h.agent.execCode(ctx, id, []string{"sh", "-c", "grep -q " + h.d.NetPrefix[:3] + " /proc/net/dev"}); err != nil || code != 0 {
			t.Fatalf("the container does not see the host's interfaces: %d %v", code, err)
		}
		c, err := h.engine.ContainerInspect(ctx, id)
		if err != nil || c.Config.Host.Memory != 96<<20 {
			t.Fatalf("memory limit %d, %v", c.Config.Host.Memory, err)
		}
	})

	t.Run("restartPolicy Never ends in Failed or Succeeded with the exit code", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			code   int
			phase  corev1.PodPhase
			reason string
		}{{"fails", 3, corev1.PodFailed, "Error"}, {"succeeds", 0, corev1.PodSucceeded, "Completed"}} {
			pod := h.create(newPod("never-"+tc.name, corev1.RestartPolicyNever, "sh", "-c", "exit "+strconv.Itoa(tc.code)))
			p := h.waitPod(pod, string(tc.phase), func(p *corev1.Pod) bool { return p.Status.Phase == tc.phase })
			term := p.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.Reason != tc.reason || term.ExitCode != int32(tc.code) || term.FinishedAt.IsZero() {
				t.Fatalf("%s: terminated state = %+v", tc.name, term)
			}
			if p.Status.ContainerStatuses[0].RestartCount != 0 {
				t.Fatalf("%s: restarted under restartPolicy Never", tc.name)
			}
		}
	})

	t.Run("OnFailure restarts a failing container with back-off", func(t *testing.T) {
		pod := h.create(newPod("crasher", corev1.RestartPolicyOnFailure, "sh", "-c", "exit 7"))
		p := h.waitPod(pod, "CrashLoopBackOff after a restart", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
		})
		cs := p.Status.ContainerStatuses[0]
		if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 7 {
			t.Fatalf("lastState = %+v", cs.LastTerminationState)
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Fatalf("phase = %s while restarting, want Running", p.Status.Phase)
		}
	})

	t.Run("Always restarts a container that exits 0", func(t *testing.T) {
		pod := h.create(newPod("looper", corev1.RestartPolicyAlways, "sh", "-c", "exit 0"))
		p := h.waitPod(pod, "a restart", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1
		})
		if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.Reason != "Completed" {
			t.Fatalf("lastState = %+v", p.Status.ContainerStatuses[0].LastTerminationState)
		}
	})

	t.Run("failing liveness probe restarts the container", func(t *testing.T) {
		pod := newPod("unhealthy", corev1.RestartPolicyAlways, "sleep", "3600")
		pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "/nonexistent"}}},
			PeriodSeconds: 1, FailureThreshold: 2,
		}
		pod = h.create(pod)
		p := h.waitPod(pod, "a restart by the liveness probe", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].LastTerminationState.Terminated != nil
		})
		if code := p.Status.ContainerStatuses[0].LastTerminationState.Terminated.ExitCode; code != 137 && code != 143 {
			t.Fatalf("killed container's exit code = %d, want a signal's (137 or 143)", code)
		}
	})

	t.Run("readiness probe drives Ready", func(t *testing.T) {
		pod := newPod("notready", corev1.RestartPolicyAlways, "sleep", "3600")
		pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "/tmp/ready"}}},
			PeriodSeconds: 1, FailureThreshold: 1,
		}
		pod = h.create(pod)
		p := h.waitPod(pod, "Running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
		})
		if p.Status.ContainerStatuses[0].Ready || conditionTrue(p, corev1.PodReady) {
			t.Fatalf("ready before the readiness probe passed: %+v", p.Status)
		}
		id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "drover://")
		if code, err := h.agent.execCode(ctx, id, []string{"touch", "/tmp/ready"}); err != nil || code != 0 {
			t.Fatalf("touch: %d %v", code, err)
		}
		h.waitPod(pod, "Ready", func(p *corev1.Pod) bool { return conditionTrue(p, corev1.PodReady) })
	})

	t.Run("emptyDir is shared between containers, and env has the served fieldRefs", func(t *testing.T) {
		for _, medium := range []corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory} {
			name := "shared-" + strings.ToLower(string(medium)+"disk")
			pod := newPod(name, corev1.RestartPolicyAlways, "sh", "-c", "echo $POD_NAME/$POD_NS/$NODE/$POD_IP > /data/x; sleep 3600")
			pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: medium}}}}
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			pod.Spec.Containers[0].Env = []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "POD_NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			}
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "reader", Image: testImage,
				ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/in", ReadOnly: true}}})
			pod = h.create(pod)
			p := h.waitPod(pod, "Running and ready", running)
			want := name + "/default/" + testNode + "/" + p.Status.PodIP
			reader := strings.TrimPrefix(p.Status.ContainerStatuses[1].ContainerID, "drover://")
			testutil.Eventually(t, 30*time.Second, func() bool {
				code, err := h.agent.execCode(ctx, reader, []string{"grep", "-qx", want, "/in/x"})
				return err == nil && code == 0
			}, "the reader to see %q in the shared volume", want)
			if code, _ := h.agent.execCode(ctx, reader, []string{"touch", "/in/y"}); code == 0 {
				t.Fatal("a read-only mount of the volume is writable")
			}
		}
	})

	t.Run("init containers run in order before the containers", func(t *testing.T) {
		pod := newPod("inits", corev1.RestartPolicyAlways, "sleep", "3600")
		pod.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		mount := []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
		pod.Spec.Containers[0].VolumeMounts = mount
		pod.Spec.InitContainers = []corev1.Container{
			{Name: "one", Image: testImage, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sh", "-c", "echo one >> /work/log"}, VolumeMounts: mount},
			{Name: "two", Image: testImage, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sh", "-c", "echo two >> /work/log"}, VolumeMounts: mount},
		}
		pod = h.create(pod)
		p := h.waitPod(pod, "Running and ready", running)
		for _, s := range p.Status.InitContainerStatuses {
			if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
				t.Fatalf("init container %s: %+v", s.Name, s.State)
			}
		}
		main := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "drover://")
		if code, err := h.agent.execCode(ctx, main, []string{"sh", "-c", `test "$(cat /work/log)" = "$(printf 'one\ntwo')"`}); err != nil || code != 0 {
			t.Fatalf("init containers did not run once each, in order: %d %v", code, err)
		}
	})

	t.Run("delete stops the containers, removes the engine pod and the API object", func(t *testing.T) {
		pod := newPod("doomed", corev1.RestartPolicyAlways, "sleep", "3600")
		pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
		pod = h.create(pod)
		p := h.waitPod(pod, "Running and ready", running)
		if _, err := os.Stat(h.agent.podDir(string(p.UID)) + "/volumes/scratch"); err != nil {
			t.Fatalf("emptyDir: %v", err)
		}
		// What the API server does on a graceful delete: it sets the deletion timestamp.
		now := metav1.Now()
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, ptrTo[int64](5)
		if _, err := h.api.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 60*time.Second, func() bool { return h.podGone(p) }, "the API object to be deleted")
		if left := h.engineContainers(p); len(left) != 0 {
			t.Fatalf("containers left: %+v", left)
		}
		if _, err := h.engine.PodInspect(ctx, enginePodName(p)); err == nil {
			t.Fatal("engine pod left")
		}
		if _, err := os.Stat(h.agent.podDir(string(p.UID))); !os.IsNotExist(err) {
			t.Fatalf("pod directory left: %v", err)
		}
	})

	t.Run("an engine pod no API pod explains is removed", func(t *testing.T) {
		orphan := newPod("orphan", corev1.RestartPolicyAlways)
		if _, err := h.engine.PodCreate(ctx, apiPodCreate(h.agent, orphan)); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 60*time.Second, func() bool {
			_, err := h.engine.PodInspect(ctx, enginePodName(orphan))
			return isNotFound(err)
		}, "the orphaned engine pod to be removed")
	})
}

// apiPodCreate is the engine pod the agent would make for pod, made behind its back.
func apiPodCreate(a *Agent, pod *corev1.Pod) api.PodCreate {
	return api.PodCreate{Name: enginePodName(pod), Labels: a.podLabels(pod), Network: "none"}
}

// kubernetesFor is a clientset for the API server at host.
func kubernetesFor(host string) (kube.Interface, error) {
	return kube.NewForConfig(&rest.Config{Host: host, Timeout: 5 * time.Second})
}

func conditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestAdoptAndAPIDown restarts the agent: a new one adopts the running pods without
// restarting them; one whose API is unreachable keeps them running and still enforces
// their restart policy.
func TestAdoptAndAPIDown(t *testing.T) {
	h := newHarness(t)
	h.waitSynced()
	ctx := context.Background()
	pod := h.create(newPod("survivor", corev1.RestartPolicyAlways, "sleep", "3600"))
	p := h.waitPod(pod, "Running and ready", running)
	firstID := p.Status.ContainerStatuses[0].ContainerID

	h.stop()
	h.start(kubefake.Wrap(h.api))
	h.waitSynced()
	// A changed spec wakes the new agent's worker; then its status must still be the
	// same container, never restarted.
	p = h.get(pod)
	p.Labels = map[string]string{"touched": "1"}
	if _, err := h.api.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		w := h.agent.workerOf(p.UID)
		return w != nil && w.reported()
	}, "the new agent to look at the pod")
	p = h.get(pod)
	if cs := p.Status.ContainerStatuses[0]; cs.ContainerID != firstID || cs.RestartCount != 0 || cs.State.Running == nil {
		t.Fatalf("after an agent restart the container is %+v, want %s running, never restarted", cs, firstID)
	}
	if n := len(h.engineContainers(p)); n != 1 {
		t.Fatalf("%d engine containers, want the one adopted", n)
	}

	// Now the servers are away: a clientset pointed at a closed port.
	h.stop()
	cs, err := kubernetesFor("http://127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	h.start(cs)
	// The agent runs the pod from its saved spec: killing the container gets it restarted.
	if err := h.engine.ContainerKill(ctx, strings.TrimPrefix(firstID, "drover://"), "KILL"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		for _, c := range h.engineContainers(p) {
			if c.State.Running && attemptOf(&c) == 1 {
				return true
			}
		}
		return false
	}, "the killed container to be restarted while the API is unreachable")
	if _, err := h.engine.PodInspect(ctx, enginePodName(p)); err != nil {
		t.Fatalf("the engine pod was removed while the API was unreachable: %v", err)
	}
}
