package replicaset

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ctrltest.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

func run(t *testing.T, rs *appsv1.ReplicaSet, pods ...*corev1.Pod) *ctrltest.Env {
	env := ctrltest.New(t)
	for _, p := range pods {
		if _, err := env.Client.CoreV1().Pods(p.Namespace).Create(env.Ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Client.AppsV1().ReplicaSets("default").Create(env.Ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := New(env.API, env.Factory, env.Recorder)
	env.Start(func(ctx context.Context) { c.Run(ctx, 2) })
	return env
}

func ownedBy(p corev1.Pod, uid types.UID) bool {
	ref := metav1.GetControllerOf(&p)
	return ref != nil && ref.UID == uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
}

func waitOwned(env *ctrltest.Env, rs *appsv1.ReplicaSet, n int) []corev1.Pod {
	var got []corev1.Pod
	env.Wait(fmt.Sprintf("%d pods owned by %s", n, rs.Name), func() (bool, string) {
		got = nil
		for _, p := range env.Pods("default", "") {
			if ownedBy(p, rs.UID) {
				got = append(got, p)
			}
		}
		return len(got) == n, ctrltest.Describe(got)
	})
	return got
}

func TestReplicaSetScaleUpAndDown(t *testing.T) {
	rs := newRS("web", 3)
	env := run(t, rs)
	pods := waitOwned(env, rs, 3)
	for _, p := range pods {
		if len(p.Name) != len("web-")+5 || p.Name[:4] != "web-" {
			t.Errorf("pod name %q, want web-<5 chars>", p.Name)
		}
	}
	// Two ready, one left pending: scaling to 1 must keep a ready one.
	env.SetPodReady(pods[0], "n1")
	env.SetPodReady(pods[1], "n1")
	env.Wait("status ready 2", func() (bool, string) {
		cur, _ := env.Client.AppsV1().ReplicaSets("default").Get(env.Ctx, "web", metav1.GetOptions{})
		s := cur.Status
		return s.Replicas == 3 && s.ReadyReplicas == 2 && s.AvailableReplicas == 2 && s.FullyLabeledReplicas == 3 && s.ObservedGeneration == 1, fmt.Sprintf("%+v", s)
	})
	cur, _ := env.Client.AppsV1().ReplicaSets("default").Get(env.Ctx, "web", metav1.GetOptions{})
	cur.Spec.Replicas = ctrltest.Int32(1)
	if _, err := env.Client.AppsV1().ReplicaSets("default").Update(env.Ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	left := waitOwned(env, rs, 1)
	if left[0].Name != pods[0].Name && left[0].Name != pods[1].Name {
		t.Errorf("kept %s, want one of the ready pods %s %s", left[0].Name, pods[0].Name, pods[1].Name)
	}
}

func TestReplicaSetAdoptsOrphanAndReleasesMismatch(t *testing.T) {
	rs := newRS("api", 2)
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: "default", Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	other := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "default", Labels: map[string]string{"app": "other"}},
	}
	env := run(t, rs, orphan, other)
	pods := waitOwned(env, rs, 2)
	adopted := false
	for _, p := range pods {
		adopted = adopted || p.Name == "stray"
	}
	if !adopted {
		t.Fatalf("orphan not adopted: %s", ctrltest.Describe(pods))
	}
	if o, _ := env.Client.CoreV1().Pods("default").Get(env.Ctx, "other", metav1.GetOptions{}); len(o.OwnerReferences) != 0 {
		t.Errorf("non-matching pod adopted: %+v", o.OwnerReferences)
	}
	// Relabel the adopted pod: it is released and replaced.
	p, _ := env.Client.CoreV1().Pods("default").Get(env.Ctx, "stray", metav1.GetOptions{})
	p.Labels = map[string]string{"app": "debug"}
	if _, err := env.Client.CoreV1().Pods("default").Update(env.Ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("stray released", func() (bool, string) {
		p, _ := env.Client.CoreV1().Pods("default").Get(env.Ctx, "stray", metav1.GetOptions{})
		return len(p.OwnerReferences) == 0, fmt.Sprintf("%+v", p.OwnerReferences)
	})
	pods = waitOwned(env, rs, 2)
	for _, p := range pods {
		if p.Name == "stray" {
			t.Errorf("released pod still counted")
		}
	}
}

func TestPodsToDeleteOrder(t *testing.T) {
	mk := func(name, node string, phase corev1.PodPhase, ready bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
		if ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		return p
	}
	pods := []*corev1.Pod{
		mk("ready", "n", corev1.PodRunning, true),
		mk("notready", "n", corev1.PodRunning, false),
		mk("pending", "n", corev1.PodPending, false),
		mk("unscheduled", "", corev1.PodPending, false),
	}
	want := []string{"unscheduled", "pending", "notready", "ready"}
	for n := 1; n <= 4; n++ {
		got := PodsToDelete(pods, n)
		for i, p := range got {
			if p.Name != want[i] {
				t.Errorf("n=%d: victim %d is %s, want %s", n, i, p.Name, want[i])
			}
		}
	}
}
