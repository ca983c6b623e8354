package deployment

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
	"github.com/drover/drover/cluster/controllers/replicaset"
)

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	surge, unavail := intstr.FromInt32(1), intstr.FromInt32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ctrltest.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}},
			RevisionHistoryLimit:    ctrltest.Int32(10),
			ProgressDeadlineSeconds: ctrltest.Int32(600),
		},
	}
}

func start(t *testing.T, d *appsv1.Deployment) *ctrltest.Env {
	env := ctrltest.New(t)
	if _, err := env.Client.AppsV1().Deployments("default").Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dc := New(env.API, env.Factory, env.Recorder)
	rc := replicaset.New(env.API, env.Factory, env.Recorder)
	env.Start(func(ctx context.Context) { dc.Run(ctx, 2) }, func(ctx context.Context) { rc.Run(ctx, 2) })
	return env
}

func listRS(env *ctrltest.Env) []appsv1.ReplicaSet {
	l, err := env.Client.AppsV1().ReplicaSets("default").List(env.Ctx, metav1.ListOptions{})
	if err != nil {
		env.T.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return revisionOf(l.Items[i]) < revisionOf(l.Items[j]) })
	return l.Items
}

func revisionOf(rs appsv1.ReplicaSet) string { return rs.Annotations[RevisionAnnotation] }

func describeRS(rss []appsv1.ReplicaSet) string {
	s := ""
	for _, rs := range rss {
		s += fmt.Sprintf("%s(rev %s spec %d status %d/%d avail) ", rs.Name, revisionOf(rs), *rs.Spec.Replicas, rs.Status.Replicas, rs.Status.AvailableReplicas)
	}
	return s
}

func getD(env *ctrltest.Env, name string) *appsv1.Deployment {
	d, err := env.Client.AppsV1().Deployments("default").Get(env.Ctx, name, metav1.GetOptions{})
	if err != nil {
		env.T.Fatal(err)
	}
	return d
}

// waitComplete waits for what kubectl rollout status waits for.
func waitComplete(env *ctrltest.Env, name string) *appsv1.Deployment {
	var d *appsv1.Deployment
	env.Wait("rollout of "+name, func() (bool, string) {
		d = getD(env, name)
		s := d.Status
		want := *d.Spec.Replicas
		cond := getCondition(s, appsv1.DeploymentProgressing)
		ok := s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want &&
			cond != nil && cond.Reason == NewRSAvailableReason
		return ok, fmt.Sprintf("%+v %s", s, describeRS(listRS(env)))
	})
	return d
}

func update(env *ctrltest.Env, name string, f func(d *appsv1.Deployment)) {
	env.T.Helper()
	d := getD(env, name)
	f(d)
	d.Generation++
	if _, err := env.Client.AppsV1().Deployments("default").Update(env.Ctx, d, metav1.UpdateOptions{}); err != nil {
		env.T.Fatal(err)
	}
}

// TestRollingUpdateBounds rolls v1 to v2 making one pod ready at a time and
// checks at every observation that the ReplicaSets never ask for more than
// replicas+maxSurge pods and that ready pods never drop below
// replicas-maxUnavailable.
func TestRollingUpdateBounds(t *testing.T) {
	const want, surge, unavail = 4, 1, 1
	env := start(t, newDeployment("web", want, "v1"))
	stop := env.Kubelet("default", "n1")
	waitComplete(env, "web")
	stop()
	rss := listRS(env)
	if len(rss) != 1 || rss[0].Name != "web-"+rss[0].Labels[HashLabel] || revisionOf(rss[0]) != "1" {
		t.Fatalf("after v1: %s", describeRS(rss))
	}
	if rev := getD(env, "web").Annotations[RevisionAnnotation]; rev != "1" {
		t.Errorf("deployment revision %q, want 1", rev)
	}

	update(env, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2" })
	env.Wait("v2 rolled out one ready pod at a time", func() (bool, string) {
		rss := listRS(env)
		var total int32
		for _, rs := range rss {
			total += *rs.Spec.Replicas
		}
		if total > want+surge {
			t.Fatalf("replica sets ask for %d pods, more than %d+%d: %s", total, want, surge, describeRS(rss))
		}
		pods := env.Pods("default", "")
		ready := 0
		var pending *corev1.Pod
		for i, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				ready++
			} else if pending == nil {
				pending = &pods[i]
			}
		}
		if ready < want-unavail {
			t.Fatalf("%d ready pods, fewer than %d-%d: %s", ready, want, unavail, ctrltest.Describe(pods))
		}
		if pending != nil {
			env.SetPodReady(*pending, "n1")
		}
		d := getD(env, "web")
		cond := getCondition(d.Status, appsv1.DeploymentProgressing)
		done := len(rss) == 2 && *rss[0].Spec.Replicas == 0 && rss[0].Status.Replicas == 0 && d.Status.UpdatedReplicas == want &&
			d.Status.AvailableReplicas == want && d.Status.Replicas == want && cond != nil && cond.Reason == NewRSAvailableReason
		return done, fmt.Sprintf("%+v %s", d.Status, describeRS(rss))
	})
	rss = listRS(env)
	// The new ReplicaSet started at the surge: one pod above the size.
	first := ""
	for len(env.Recorder.Events) > 0 && first == "" {
		if e := <-env.Recorder.Events; strings.Contains(e, "Scaled up replica set "+rss[1].Name+" from 0") {
			first = e
		}
	}
	if want := fmt.Sprintf("Normal ScalingReplicaSet Scaled up replica set %s from 0 to %d", rss[1].Name, surge); first != want {
		t.Errorf("first scaling of the new replica set: %q, want %q", first, want)
	}
	if revisionOf(rss[1]) != "2" || rss[1].Spec.Template.Spec.Containers[0].Image != "v2" {
		t.Errorf("new replica set: %s", describeRS(rss))
	}
	d := getD(env, "web")
	if d.Annotations[RevisionAnnotation] != "2" {
		t.Errorf("deployment revision %q, want 2", d.Annotations[RevisionAnnotation])
	}
	if c := getCondition(d.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != MinimumAvailableReason {
		t.Errorf("Available condition %+v", c)
	}
}

// TestRollbackPauseAndHistory: rollout undo (the template patched back, as
// kubectl does it) makes the old ReplicaSet revision 3 with its
// change-cause; a paused Deployment does not roll out; revisionHistoryLimit
// prunes the oldest scaled-down ReplicaSet.
func TestRollbackPauseAndHistory(t *testing.T) {
	d := newDeployment("api", 2, "v1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first"}
	env := start(t, d)
	env.Kubelet("default", "n1")
	waitComplete(env, "api")
	update(env, "api", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "v2"
		d.Annotations["kubernetes.io/change-cause"] = "second"
	})
	waitComplete(env, "api")
	rss := listRS(env)
	if len(rss) != 2 || rss[0].Annotations["kubernetes.io/change-cause"] != "first" || rss[1].Annotations["kubernetes.io/change-cause"] != "second" {
		t.Fatalf("change-cause not carried: %v / %v", rss[0].Annotations, rss[1].Annotations)
	}

	// kubectl rollout undo: the revision-1 template and its annotations.
	v1 := rss[0]
	update(env, "api", func(d *appsv1.Deployment) {
		tmpl := v1.Spec.Template.DeepCopy()
		delete(tmpl.Labels, HashLabel)
		d.Spec.Template = *tmpl
		d.Annotations["kubernetes.io/change-cause"] = v1.Annotations["kubernetes.io/change-cause"]
	})
	got := waitComplete(env, "api")
	rss = listRS(env)
	if len(rss) != 2 || rss[1].Name != v1.Name || revisionOf(rss[1]) != "3" || rss[1].Annotations[RevisionHistoryAnnotation] != "1" || *rss[1].Spec.Replicas != 2 || *rss[0].Spec.Replicas != 0 {
		t.Fatalf("after undo: %s %v", describeRS(rss), rss[1].Annotations)
	}
	if got.Annotations[RevisionAnnotation] != "3" {
		t.Errorf("deployment revision %q after undo, want 3", got.Annotations[RevisionAnnotation])
	}

	// Paused: a template change makes no ReplicaSet until resumed.
	update(env, "api", func(d *appsv1.Deployment) { d.Spec.Paused = true })
	update(env, "api", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v4" })
	gen := getD(env, "api").Generation
	env.Wait("paused generation observed", func() (bool, string) {
		d := getD(env, "api")
		c := getCondition(d.Status, appsv1.DeploymentProgressing)
		return d.Status.ObservedGeneration == gen && c != nil && c.Reason == PausedReason, fmt.Sprintf("%+v", d.Status)
	})
	if rss := listRS(env); len(rss) != 2 {
		t.Fatalf("paused deployment rolled out: %s", describeRS(rss))
	}
	// Resume with a history limit of 1: v4 rolls out and the oldest
	// scaled-down ReplicaSet (v2, revision 2) goes.
	update(env, "api", func(d *appsv1.Deployment) { d.Spec.Paused = false; d.Spec.RevisionHistoryLimit = ctrltest.Int32(1) })
	waitComplete(env, "api")
	env.Wait("history pruned to 1", func() (bool, string) {
		rss := listRS(env)
		return len(rss) == 2 && revisionOf(rss[0]) == "3" && revisionOf(rss[1]) == "4", describeRS(rss)
	})
}

func TestRecreateStopsOldFirst(t *testing.T) {
	d := newDeployment("db", 2, "v1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	env := start(t, d)
	env.Kubelet("default", "n1")
	waitComplete(env, "db")
	update(env, "db", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2" })
	env.Wait("v2 recreated", func() (bool, string) {
		pods := env.Pods("default", "")
		images := map[string]bool{}
		for _, p := range pods {
			images[p.Spec.Containers[0].Image] = true
		}
		if images["v1"] && images["v2"] {
			t.Fatalf("old and new pods at once: %s", ctrltest.Describe(pods))
		}
		d := getD(env, "db")
		return len(pods) == 2 && images["v2"] && d.Status.UpdatedReplicas == 2 && d.Status.AvailableReplicas == 2, fmt.Sprintf("%+v", d.Status)
	})
}

func TestTemplateHashMatchesKubernetes(t *testing.T) {
	// The properties ReplicaSet names rely on: stable, template-sensitive,
	// collision-count-sensitive, in the safe alphabet.
	d := newDeployment("web", 1, "nginx")
	a := TemplateHash(&d.Spec.Template, nil)
	if a != TemplateHash(&d.Spec.Template, nil) {
		t.Fatal("hash not stable")
	}
	one := int32(1)
	if a == TemplateHash(&d.Spec.Template, &one) {
		t.Error("collision count ignored")
	}
	d2 := newDeployment("web", 1, "nginx:2")
	if a == TemplateHash(&d2.Spec.Template, nil) {
		t.Error("template change ignored")
	}
	for _, r := range a {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash %q has %q outside the safe alphabet", a, r)
		}
	}
}
