package agent

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/cluster/kube"
	"github.com/drover/drover/cluster/kube/kubefake"
	"github.com/drover/drover/internal/testutil"
)

// testImage is the name the test pods use for the locally built busybox.
const testImage = "drover.test/busybox:1"

const testNode = "node-a"

// harness is a real drover daemon, a fake cluster API and an agent between them.
type harness struct {
	t        *testing.T
	d        *testutil.Daemon
	engine   *client.Client
	api      *fake.Clientset
	stateDir string
	subnet   string
	agent    *Agent
	cancel   context.CancelFunc
	done     chan error
	mod      func(*Config) // adjusts the agents' configuration
}

// newHarness starts a daemon with the test image, a fake API that already holds the
// node with a podCIDR (as the servers' controller would assign it), and an agent.
func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness with mod applied to the agent's configuration.
func newHarnessWith(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	d := testutil.StartDaemon(t)
	d.ImportBusybox(testImage)
	h := &harness{t: t, d: d, engine: client.New(d.Socket), api: fake.NewClientset(), stateDir: t.TempDir(),
		subnet: testutil.FreeSubnet(t).String(), mod: mod}
	t.Cleanup(h.engine.Close)
	// Runs before t.TempDir's removal: tmpfs volumes of pods the test left are mounted.
	t.Cleanup(func() { unmountUnder(h.stateDir) })
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}, Spec: corev1.NodeSpec{PodCIDR: h.subnet}}
	if _, err := h.api.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.start(kubefake.Wrap(h.api))
	return h
}

// start runs an agent against cs; the test's cleanup stops it.
func (h *harness) start(cs kube.Interface) {
	h.t.Helper()
	cfg := Config{NodeName: testNode, Engine: h.engine, API: cs, StateDir: h.stateDir, Advertise: "127.0.0.1",
		KubeletPort: -1, Logger: slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if h.mod != nil {
		h.mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.agent, h.cancel, h.done = a, cancel, make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

// stop stops the agent (the pods keep running in the engine).
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("agent: %v", err)
	}
	h.cancel = nil
}

// waitSynced waits until the agent has listed the pods: the fake clientset's watch
// misses what is created between its list and its watch.
func (h *harness) waitSynced() {
	h.t.Helper()
	select {
	case <-h.agent.apiSynced:
	case <-time.After(30 * time.Second):
		h.t.Fatal("the agent did not list the pods")
	}
}

// testWriter sends the agent's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newPod is a pod bound to the test node with one container running cmd.
func newPod(name string, policy corev1.RestartPolicy, cmd ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uuid.NewUUID())},
		Spec: corev1.PodSpec{
			NodeName:                      testNode,
			RestartPolicy:                 policy,
			TerminationGracePeriodSeconds: ptrTo[int64](2),
			Containers: []corev1.Container{{Name: "main", Image: testImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: cmd}},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

func (h *harness) create(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	out, err := h.api.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) get(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	out, err := h.api.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// waitPod waits until the pod's API object satisfies fn, and returns it.
func (h *harness) waitPod(pod *corev1.Pod, what string, fn func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	var last *corev1.Pod
	ok := testutil.Poll(90*time.Second, func() bool {
		p, err := h.api.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		last = p
		return fn(p)
	})
	if !ok {
		if last != nil {
			h.t.Fatalf("pod %s: timed out waiting for %s; status: %+v", pod.Name, what, last.Status)
		}
		h.t.Fatalf("pod %s: timed out waiting for %s", pod.Name, what)
	}
	return last
}

func (h *harness) podGone(pod *corev1.Pod) bool {
	_, err := h.api.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

// engineContainers lists the engine's containers of pod.
func (h *harness) engineContainers(pod *corev1.Pod) []api.Container {
	h.t.Helper()
	out, err := h.engine.ContainerList(context.Background(), client.ListOptions{All: true,
		Filters: []string{"label=" + labelUID + "=" + string(pod.UID)}})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// containerID is the engine ID of a pod's container as its status reports it.
func (h *harness) containerID(pod *corev1.Pod, name string) string {
	h.t.Helper()
	for _, c := range h.get(pod).Status.ContainerStatuses {
		if c.Name == name {
			return strings.TrimPrefix(c.ContainerID, "drover://")
		}
	}
	h.t.Fatalf("pod %s has no status of container %s", pod.Name, name)
	return ""
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil || !c.Ready {
			return false
		}
	}
	return true
}

// unmountUnder unmounts every mount below dir.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	lines := strings.Split(string(data), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			_ = syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}
