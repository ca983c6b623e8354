package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"

	k8stesting "k8s.io/client-go/testing"

	"github.com/drover/drover/cluster/kube/kubefake"
)

// fakeCluster is client-go's fake clientset with the one thing the API
// server does for the scheduler that the fake lacks: a binding sets the
// pod's node.
func fakeCluster(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := ca.GetObject().(*corev1.Binding)
		obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		if p.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(corev1.Resource("pods/binding"), p.Name, fmt.Errorf("pod %s is already assigned to node %q", p.Name, p.Spec.NodeName))
		}
		p.Spec.NodeName = b.Target.Name
		return true, nil, cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, p.Namespace)
	})
	return cs
}

// startLoop runs the scheduler until the test ends.
func startLoop(t *testing.T, cs *fake.Clientset) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, kubefake.Wrap(cs), RunOptions{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Options: Options{Seed: 1}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// eventually polls cond until it holds; the deadline only bounds a hang.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func getPod(ctx context.Context, cs *fake.Clientset, name string) (*corev1.Pod, error) {
	return cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
}

func TestRunBindsPods(t *testing.T) {
	other := pod("other", "100m", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "someone-else" })
	cs := fakeCluster(t,
		node("a", "2", "4Gi"), node("b", "2", "4Gi"),
		pod("p1", "1", "1Gi"), pod("p2", "1", "1Gi"), pod("p3", "1", "1Gi"), other)
	startLoop(t, cs)
	placed := map[string]int{}
	for _, name := range []string{"p1", "p2", "p3"} {
		eventually(t, name+" bound", func(ctx context.Context) (bool, error) {
			p, err := getPod(ctx, cs, name)
			if err != nil {
				return false, err
			}
			if p.Spec.NodeName != "" {
				placed[p.Spec.NodeName]++
			}
			return p.Spec.NodeName != "", nil
		})
	}
	// LeastAllocated spreads three 1-cpu pods over two 2-cpu nodes 2+1.
	if placed["a"]+placed["b"] != 3 || placed["a"] == 0 || placed["b"] == 0 {
		t.Errorf("placements %v, want both nodes used", placed)
	}
	p, err := getPod(context.Background(), cs, "other")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" {
		t.Errorf("pod for another scheduler was bound to %s", p.Spec.NodeName)
	}
}

func TestRunReportsUnschedulable(t *testing.T) {
	cs := fakeCluster(t, node("a", "2", "4Gi"), node("b", "2", "4Gi"), pod("huge", "16", "1Gi"))
	startLoop(t, cs)
	const want = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
	eventually(t, "FailedScheduling event", func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason != "FailedScheduling" || e.InvolvedObject.Name != "huge" {
				continue
			}
			if e.Type != corev1.EventTypeWarning || e.Message != want || e.ReportingController != DefaultSchedulerName {
				return false, fmt.Errorf("event %s %q from %q", e.Type, e.Message, e.ReportingController)
			}
			return true, nil
		}
		return false, nil
	})
	eventually(t, "PodScheduled condition", func(ctx context.Context) (bool, error) {
		p, err := getPod(ctx, cs, "huge")
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == want, nil
			}
		}
		return false, nil
	})
	// A node that fits arrives: the pod is retried and bound there.
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), node("big", "32", "64Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "huge bound to big", func(ctx context.Context) (bool, error) {
		p, err := getPod(ctx, cs, "huge")
		return err == nil && p.Spec.NodeName == "big", err
	})
}

func TestRunPreempts(t *testing.T) {
	grace := int64(7)
	low := pod("low", "1500m", "", on("a"), priority(1), func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = &grace })
	// Both exist before the scheduler starts: it schedules only once its
	// informers have synced, so it knows of low when it tries high.
	cs := fakeCluster(t, node("a", "2", "4Gi"), low, pod("high", "1", "", priority(1000)))
	var mu sync.Mutex
	var deleteGrace *int64
	cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if da, ok := a.(k8stesting.DeleteActionImpl); ok && da.Name == "low" {
			mu.Lock()
			deleteGrace = da.DeleteOptions.GracePeriodSeconds
			mu.Unlock()
		}
		return false, nil, nil
	})
	startLoop(t, cs)
	eventually(t, "high bound to a", func(ctx context.Context) (bool, error) {
		p, err := getPod(ctx, cs, "high")
		return err == nil && p.Spec.NodeName == "a", err
	})
	if _, err := getPod(context.Background(), cs, "low"); !apierrors.IsNotFound(err) {
		t.Errorf("victim still there: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if deleteGrace == nil || *deleteGrace != grace {
		t.Errorf("victim deleted with grace %v, want %d", deleteGrace, grace)
	}
	evs, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var preempted bool
	for _, e := range evs.Items {
		if e.Reason == "Preempted" && e.InvolvedObject.Name == "low" && e.Message == "Preempted by pod default/high on node a" {
			preempted = true
		}
	}
	if !preempted {
		t.Errorf("no Preempted event on the victim among %d events", len(evs.Items))
	}
	// The nomination was written before the victims went.
	acts := cs.Actions()
	var nominated bool
	for _, a := range acts {
		if ua, ok := a.(k8stesting.UpdateAction); ok && ua.GetSubresource() == "status" {
			if p, ok := ua.GetObject().(*corev1.Pod); ok && p.Name == "high" && p.Status.NominatedNodeName == "a" {
				nominated = true
			}
		}
	}
	if !nominated {
		t.Error("high's status.nominatedNodeName was never set to a")
	}
	var disrupted bool
	for _, a := range acts {
		if ua, ok := a.(k8stesting.UpdateAction); ok && ua.GetSubresource() == "status" {
			if p, ok := ua.GetObject().(*corev1.Pod); ok && p.Name == "low" {
				for _, c := range p.Status.Conditions {
					disrupted = disrupted || c.Type == corev1.DisruptionTarget && c.Reason == corev1.PodReasonPreemptionByScheduler
				}
			}
		}
	}
	if !disrupted {
		t.Error("the victim never got a DisruptionTarget condition")
	}
}
