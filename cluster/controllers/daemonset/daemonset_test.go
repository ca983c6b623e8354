package daemonset

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func newDS() *appsv1.DaemonSet {
	one := intstr.FromInt32(1)
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "agent-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"disk": "ssd"},
					Containers:   []corev1.Container{{Name: "c", Image: "v1"}},
				},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one}},
		},
	}
}

func start(t *testing.T, objs ...runtime.Object) *ctrltest.Env {
	env := ctrltest.New(t, objs...)
	c := New(env.API, env.Factory, env.Recorder)
	env.Start(func(ctx context.Context) { c.Run(ctx, 2) })
	return env
}

func placed(env *ctrltest.Env) map[string]corev1.Pod {
	out := map[string]corev1.Pod{}
	for _, p := range env.Pods("default", "app=agent") {
		out[targetNode(&p)] = p
	}
	return out
}

func keys(m map[string]corev1.Pod) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// TestPlacementAndRollingUpdate: pods go to the ssd nodes, including one
// tainted unreachable (DaemonSet pods tolerate that by default), but not to
// the node with a taint they do not tolerate nor to the hdd node; an image
// change replaces them one node at a time.
func TestPlacementAndRollingUpdate(t *testing.T) {
	ssd := map[string]string{"disk": "ssd"}
	env := start(t,
		node("n1", ssd),
		node("n2", ssd, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}),
		node("n3", map[string]string{"disk": "hdd"}),
		node("n4", ssd, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}),
		newDS(),
	)
	env.Wait("pods on n1 and n4", func() (bool, string) {
		got := placed(env)
		return fmt.Sprint(keys(got)) == "[n1 n4]", fmt.Sprint(keys(got))
	})
	for _, p := range placed(env) {
		if p.Spec.NodeName != "" {
			t.Errorf("pod %s bound by the controller to %s; the scheduler binds", p.Name, p.Spec.NodeName)
		}
		terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) != 1 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Key != "metadata.name" {
			t.Errorf("pod %s affinity %+v", p.Name, terms)
		}
		tols := map[string]bool{}
		for _, tl := range p.Spec.Tolerations {
			tols[tl.Key+":"+string(tl.Effect)] = true
		}
		for _, want := range []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/not-ready:NoExecute",
			"node.kubernetes.io/unschedulable:NoSchedule", "node.kubernetes.io/disk-pressure:NoSchedule"} {
			if !tols[want] {
				t.Errorf("pod %s lacks toleration %s", p.Name, want)
			}
		}
		if p.Labels[RevisionLabel] == "" || p.Labels[GenerationLabel] != "1" {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
	}

	// A node agent: bind and mark ready what the controller pinned.
	go func() {
		for env.Ctx.Err() == nil {
			for _, p := range env.Pods("default", "app=agent") {
				if p.Status.Phase == "" {
					p.Spec.NodeName = targetNode(&p)
					p.Status.Phase = corev1.PodRunning
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Minute))}}
					_, _ = env.Client.CoreV1().Pods("default").Update(env.Ctx, &p, metav1.UpdateOptions{})
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	getDS := func() *appsv1.DaemonSet {
		ds, err := env.Client.AppsV1().DaemonSets("default").Get(env.Ctx, "agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	env.Wait("status all available", func() (bool, string) {
		s := getDS().Status
		return s.DesiredNumberScheduled == 2 && s.CurrentNumberScheduled == 2 && s.NumberReady == 2 && s.NumberAvailable == 2 &&
			s.UpdatedNumberScheduled == 2 && s.NumberMisscheduled == 0 && s.ObservedGeneration == 1, fmt.Sprintf("%+v", s)
	})

	ds := getDS()
	ds.Spec.Template.Spec.Containers[0].Image = "v2"
	ds.Generation = 2
	if _, err := env.Client.AppsV1().DaemonSets("default").Update(env.Ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("v2 on both nodes, one node down at most", func() (bool, string) {
		got := placed(env)
		avail := 0
		for _, p := range got {
			if p.Status.Phase == corev1.PodRunning {
				avail++
			}
		}
		if avail < 1 {
			t.Fatalf("both daemons down at once (maxUnavailable 1): %v", got)
		}
		s := getDS().Status
		v2 := 0
		for _, p := range got {
			if p.Spec.Containers[0].Image == "v2" && p.Status.Phase == corev1.PodRunning {
				v2++
			}
		}
		return v2 == 2 && len(got) == 2 && s.UpdatedNumberScheduled == 2 && s.NumberAvailable == 2 && s.ObservedGeneration == 2, fmt.Sprintf("%+v", s)
	})

	// Each template has a ControllerRevision, the current one numbered
	// highest, for kubectl rollout history.
	revs, err := env.Client.AppsV1().ControllerRevisions("default").List(env.Ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byRev := map[int64]string{}
	for _, r := range revs.Items {
		byRev[r.Revision] = r.Name
	}
	want2 := "agent-" + revisionHash(getDS())
	if len(revs.Items) != 2 || byRev[2] != want2 || byRev[1] == "" {
		t.Errorf("revisions %v, want 2 with revision 2 %s", byRev, want2)
	}

	// Relabel n1 to hdd: its daemon goes.
	n1, _ := env.Client.CoreV1().Nodes().Get(env.Ctx, "n1", metav1.GetOptions{})
	n1.Labels["disk"] = "hdd"
	if _, err := env.Client.CoreV1().Nodes().Update(env.Ctx, n1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("daemon off n1", func() (bool, string) {
		got := placed(env)
		return fmt.Sprint(keys(got)) == "[n4]", fmt.Sprint(keys(got))
	})
}
