package nodelifecycle

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
	"github.com/drover/drover/cluster/controllers/replicaset"
)

func node(name string) *corev1.Node {
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name)},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now,
		}}},
	}
}

// agents renews the Leases of the nodes marked alive, as node agents do.
type agents struct {
	mu    sync.Mutex
	alive map[string]bool
}

func (a *agents) set(name string, alive bool) {
	a.mu.Lock()
	a.alive[name] = alive
	a.mu.Unlock()
}

func (a *agents) run(env *ctrltest.Env) {
	for env.Ctx.Err() == nil {
		a.mu.Lock()
		var names []string
		for n, ok := range a.alive {
			if ok {
				names = append(names, n)
			}
		}
		a.mu.Unlock()
		for _, n := range names {
			now := metav1.NewMicroTime(time.Now())
			l := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: LeaseNamespace}, Spec: coordv1.LeaseSpec{HolderIdentity: &n, RenewTime: &now}}
			if _, err := env.Client.CoordinationV1().Leases(LeaseNamespace).Update(env.Ctx, l, metav1.UpdateOptions{}); err != nil {
				_, _ = env.Client.CoordinationV1().Leases(LeaseNamespace).Create(env.Ctx, l, metav1.CreateOptions{})
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// schedule binds unscheduled pods to the first node (by name) without a
// NoSchedule taint, a stand-in for the scheduler.
func schedule(env *ctrltest.Env) {
	for env.Ctx.Err() == nil {
		nl, _ := env.Client.CoreV1().Nodes().List(env.Ctx, metav1.ListOptions{})
		var ok []string
		for _, n := range nl.Items {
			free := true
			for _, t := range n.Spec.Taints {
				free = free && t.Effect != corev1.TaintEffectNoSchedule
			}
			if free {
				ok = append(ok, n.Name)
			}
		}
		sort.Strings(ok)
		for _, p := range env.Pods("default", "") {
			if p.Spec.NodeName == "" && len(ok) > 0 {
				p.Spec.NodeName = ok[0]
				p.Status.Phase = corev1.PodRunning
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
				_, _ = env.Client.CoreV1().Pods("default").Update(env.Ctx, &p, metav1.UpdateOptions{})
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// TestDeadNodePodsReplacedElsewhere: n1's lease stops; it becomes
// Ready=Unknown with the unreachable taints, its pods are evicted (except
// one that tolerates the taint) and the ReplicaSet's replacements land on
// n2; when n1 reports again the taints go.
func TestDeadNodePodsReplacedElsewhere(t *testing.T) {
	env := ctrltest.New(t, node("n1"), node("n2"))
	tolerant := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "agent"},
		Spec: corev1.PodSpec{NodeName: "n1", Tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if _, err := env.Client.CoreV1().Pods("default").Create(env.Ctx, tolerant, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "web-uid"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ctrltest.Int32(2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
		},
	}
	if _, err := env.Client.AppsV1().ReplicaSets("default").Create(env.Ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ag := &agents{alive: map[string]bool{"n1": true, "n2": true}}
	nlc := New(env.API, env.Factory, env.Recorder, Config{GracePeriod: 2 * time.Second, EvictionDelay: 300 * time.Millisecond, Period: 50 * time.Millisecond})
	rsc := replicaset.New(env.API, env.Factory, env.Recorder)
	env.Start(nlc.Run, func(ctx context.Context) { rsc.Run(ctx, 2) },
		func(context.Context) { ag.run(env) }, func(context.Context) { schedule(env) })

	onNode := func(name string) (n int, s string) {
		for _, p := range env.Pods("default", "app=web") {
			if p.Spec.NodeName == name {
				n++
			}
		}
		return n, ctrltest.Describe(env.Pods("default", ""))
	}
	env.Wait("web pods on n1", func() (bool, string) { n, s := onNode("n1"); return n == 2, s })

	ag.set("n1", false)
	env.Wait("n1 unknown and tainted", func() (bool, string) {
		n, _ := env.Client.CoreV1().Nodes().Get(env.Ctx, "n1", metav1.GetOptions{})
		rc := readyCondition(n)
		ok := rc.Status == corev1.ConditionUnknown && rc.Reason == unknownReason && rc.Message == unknownMessage &&
			hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) && hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)
		return ok, fmt.Sprintf("%+v %+v", rc, n.Spec.Taints)
	})
	n2, _ := env.Client.CoreV1().Nodes().Get(env.Ctx, "n2", metav1.GetOptions{})
	if rc := readyCondition(n2); rc.Status != corev1.ConditionTrue || len(n2.Spec.Taints) != 0 {
		t.Fatalf("healthy n2 touched: %+v %+v", rc, n2.Spec.Taints)
	}
	env.Wait("web pods replaced on n2", func() (bool, string) {
		on1, _ := onNode("n1")
		on2, s := onNode("n2")
		return on1 == 0 && on2 == 2, s
	})
	if _, err := env.Client.CoreV1().Pods("default").Get(env.Ctx, "agent", metav1.GetOptions{}); err != nil {
		t.Errorf("pod tolerating unreachable was evicted: %v", err)
	}
	sawNotReady := false
	for len(env.Recorder.Events) > 0 {
		if e := <-env.Recorder.Events; e == "Normal NodeNotReady Node n1 status is now: NodeNotReady" {
			sawNotReady = true
		}
	}
	if !sawNotReady {
		t.Error("no NodeNotReady event for n1")
	}

	// n1 comes back and reports Ready itself.
	n1, _ := env.Client.CoreV1().Nodes().Get(env.Ctx, "n1", metav1.GetOptions{})
	now := metav1.Now()
	n1.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := env.Client.CoreV1().Nodes().UpdateStatus(env.Ctx, n1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ag.set("n1", true)
	env.Wait("n1 untainted", func() (bool, string) {
		n, _ := env.Client.CoreV1().Nodes().Get(env.Ctx, "n1", metav1.GetOptions{})
		return len(n.Spec.Taints) == 0 && readyCondition(n).Status == corev1.ConditionTrue, fmt.Sprintf("%+v", n.Spec.Taints)
	})
}

func TestEvictionTime(t *testing.T) {
	c := &Controller{cfg: Config{EvictionDelay: 5 * time.Second}, taintSeen: map[string]time.Time{}}
	added := time.Unix(1000, 0)
	taint := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: added}}
	secs := func(s int64) *int64 { return &s }
	tol := func(s *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
	}
	cases := []struct {
		name string
		tols []corev1.Toleration
		want time.Duration
		ok   bool
	}{
		{"intolerant: the eviction delay", nil, 5 * time.Second, true},
		{"tolerates for 30s", []corev1.Toleration{tol(secs(30))}, 30 * time.Second, true},
		{"tolerates forever", []corev1.Toleration{tol(nil)}, 0, false},
		{"other key only", []corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpExists}}, 5 * time.Second, true},
	}
	for _, tc := range cases {
		p := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n", Tolerations: tc.tols}}
		at, ok := c.evictionTime(p, []corev1.Taint{taint}, added)
		if ok != tc.ok || (ok && at.Sub(added) != tc.want) {
			t.Errorf("%s: got %v after, ok=%v; want %v ok=%v", tc.name, at.Sub(added), ok, tc.want, tc.ok)
		}
	}
}

// TestPodsOfDeletedNodeCollected: a node object deleted for good takes its
// pods with it.
func TestPodsOfDeletedNodeCollected(t *testing.T) {
	env := ctrltest.New(t, node("n1"), node("n2"),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-n1", Namespace: "default", UID: "a"}, Spec: corev1.PodSpec{NodeName: "n1"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-n2", Namespace: "default", UID: "b"}, Spec: corev1.PodSpec{NodeName: "n2"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default", UID: "c"}},
	)
	nlc := New(env.API, env.Factory, env.Recorder, Config{Period: 20 * time.Millisecond, GracePeriod: time.Hour})
	env.Start(nlc.Run)
	if err := env.Client.CoreV1().Nodes().Delete(env.Ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("pod of n1 deleted", func() (bool, string) {
		pods := env.Pods("default", "")
		return len(pods) == 2, ctrltest.Describe(pods)
	})
	for _, p := range env.Pods("default", "") {
		if p.Name == "on-n1" {
			t.Errorf("pod of the deleted node kept")
		}
	}
}
