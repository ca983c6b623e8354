package job

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

func newJob(name string, completions, parallelism, backoff int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid")},
		Spec: batchv1.JobSpec{
			Completions: ctrltest.Int32(completions), Parallelism: ctrltest.Int32(parallelism), BackoffLimit: ctrltest.Int32(backoff),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{ControllerUIDLabel: name + "-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{ControllerUIDLabel: name + "-uid"}},
				Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

func start(t *testing.T, j *batchv1.Job) *ctrltest.Env {
	env := ctrltest.New(t)
	if _, err := env.Client.BatchV1().Jobs("default").Create(env.Ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := New(env.API, env.Factory, env.Recorder, Config{BackoffBase: time.Millisecond})
	env.Start(func(ctx context.Context) { c.Run(ctx, 2) })
	return env
}

func getJob(env *ctrltest.Env, name string) *batchv1.Job {
	j, err := env.Client.BatchV1().Jobs("default").Get(env.Ctx, name, metav1.GetOptions{})
	if err != nil {
		env.T.Fatal(err)
	}
	return j
}

func hasCond(j *batchv1.Job, t batchv1.JobConditionType, reason string) bool {
	c := condition(j, t)
	return c != nil && c.Reason == reason
}

// finish ends one running pod of the job with phase, as its node would.
func finish(env *ctrltest.Env, p corev1.Pod, phase corev1.PodPhase) {
	p.Status.Phase = phase
	if _, err := env.Client.CoreV1().Pods("default").Update(env.Ctx, &p, metav1.UpdateOptions{}); err != nil {
		env.T.Fatal(err)
	}
}

func activePods(env *ctrltest.Env) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range env.Pods("default", "") {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestCompletionsAndParallelism(t *testing.T) {
	env := start(t, newJob("pi", 3, 2, 6))
	env.Wait("job complete, succeeding one pod at a time", func() (bool, string) {
		act := activePods(env)
		if len(act) > 2 {
			for len(env.Recorder.Events) > 0 {
				t.Log(<-env.Recorder.Events)
			}
			t.Fatalf("%d pods active, parallelism is 2: %s; all %s; job %+v", len(act), ctrltest.Describe(act), ctrltest.Describe(env.Pods("default", "")), getJob(env, "pi").Status)
		}
		if len(act) > 0 {
			finish(env, act[0], corev1.PodSucceeded)
		}
		j := getJob(env, "pi")
		return hasCond(j, batchv1.JobComplete, reasonCompletions), fmt.Sprintf("%+v", j.Status)
	})
	j := getJob(env, "pi")
	if j.Status.Succeeded != 3 || j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil ||
		!hasCond(j, batchv1.JobSuccessCriteriaMet, reasonCompletions) {
		t.Errorf("status %+v", j.Status)
	}
	pods := env.Pods("default", "")
	if len(pods) != 3 {
		t.Errorf("%d pods made for 3 completions: %s", len(pods), ctrltest.Describe(pods))
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "pi-") || len(p.Name) != 8 || p.Labels[JobNameLabel] != "pi" || p.Labels[ControllerUIDLabel] != "pi-uid" {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
		if hasTracking(&p) {
			t.Errorf("pod %s kept the tracking finalizer after being counted", p.Name)
		}
	}
	if !sawEvent(env, "Completed") {
		t.Error("no Completed event")
	}
}

func sawEvent(env *ctrltest.Env, reason string) bool {
	for {
		select {
		case e := <-env.Recorder.Events:
			if strings.Contains(e, " "+reason+" ") {
				return true
			}
		default:
			return false
		}
	}
}

func TestBackoffLimitFailsJob(t *testing.T) {
	env := start(t, newJob("flaky", 1, 1, 1))
	env.Wait("job failed after two failures", func() (bool, string) {
		act := activePods(env)
		if len(act) > 1 {
			t.Fatalf("%d pods active, parallelism is 1", len(act))
		}
		if len(act) == 1 && act[0].Spec.NodeName == "" {
			// Created pods carry the tracking finalizer.
			if !hasTracking(&act[0]) {
				t.Fatalf("pod %s without the tracking finalizer", act[0].Name)
			}
			finish(env, act[0], corev1.PodFailed)
		}
		j := getJob(env, "flaky")
		return hasCond(j, batchv1.JobFailed, reasonBackoff), fmt.Sprintf("%+v", j.Status)
	})
	j := getJob(env, "flaky")
	if j.Status.Failed != 2 || j.Status.Succeeded != 0 || j.Status.Active != 0 || !hasCond(j, batchv1.JobFailureTarget, reasonBackoff) {
		t.Errorf("status %+v", j.Status)
	}
}

// TestDeletedPodStillCounted: a running pod deleted (its finalizer holding
// it, deletionTimestamp set) counts as failed and is let go.
func TestDeletedPodStillCounted(t *testing.T) {
	env := start(t, newJob("batch", 1, 1, 6))
	var victim corev1.Pod
	env.Wait("a pod", func() (bool, string) {
		act := activePods(env)
		if len(act) == 1 {
			victim = act[0]
		}
		return len(act) == 1, ""
	})
	now := metav1.Now()
	victim.DeletionTimestamp = &now
	if _, err := env.Client.CoreV1().Pods("default").Update(env.Ctx, &victim, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("deleted pod counted failed and released", func() (bool, string) {
		j := getJob(env, "batch")
		p, _ := env.Client.CoreV1().Pods("default").Get(env.Ctx, victim.Name, metav1.GetOptions{})
		return j.Status.Failed == 1 && !hasTracking(p), fmt.Sprintf("%+v finalizers %v", j.Status, p.Finalizers)
	})
	env.Wait("a replacement", func() (bool, string) { return len(activePods(env)) == 1, "" })
}
