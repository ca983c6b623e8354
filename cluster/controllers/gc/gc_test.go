package gc

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

func ref(kind, name string, uid types.UID, block bool) metav1.OwnerReference {
	t := true
	r := metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: &t}
	if block {
		r.BlockOwnerDeletion = &t
	}
	return r
}

func rs(name string, finalizers []string, deleting bool, owners ...metav1.OwnerReference) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Finalizers: finalizers, OwnerReferences: owners}}
	if deleting {
		now := metav1.Now()
		r.DeletionTimestamp = &now
	}
	return r
}

func pod(name string, owners ...metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), OwnerReferences: owners}}
}

func start(t *testing.T, objs ...runtime.Object) *ctrltest.Env {
	env := ctrltest.New(t, objs...)
	c, err := New(env.API, env.Factory, env.Recorder)
	if err != nil {
		t.Fatal(err)
	}
	env.Start(func(ctx context.Context) { c.Run(ctx, 2) })
	return env
}

func gone(env *ctrltest.Env, name string) (bool, string) {
	_, err := env.Client.CoreV1().Pods("default").Get(env.Ctx, name, metav1.GetOptions{})
	return apierrors.IsNotFound(err), fmt.Sprint(err)
}

func TestBackgroundDeletesOrphanedDependents(t *testing.T) {
	env := start(t,
		rs("live", nil, false),
		pod("kept", ref("ReplicaSet", "live", "live", true)),
		pod("dangling", ref("ReplicaSet", "gone", "gone", true)),
		// Two owners, one gone: it stays, minus the dead reference.
		pod("shared", ref("ReplicaSet", "live", "live", false), ref("ReplicaSet", "gone", "gone", false)),
		// A recreated namesake (other uid) is not the owner.
		pod("stale", ref("ReplicaSet", "live", "old-uid", true)),
		// Owners of kinds not covered are never judged absent.
		pod("node-owned", metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "n1"}),
	)
	env.Wait("dangling and stale pods deleted", func() (bool, string) {
		a, s := gone(env, "dangling")
		b, _ := gone(env, "stale")
		return a && b, s
	})
	env.Wait("dead reference dropped", func() (bool, string) {
		p, _ := env.Client.CoreV1().Pods("default").Get(env.Ctx, "shared", metav1.GetOptions{})
		return len(p.OwnerReferences) == 1 && p.OwnerReferences[0].UID == "live", fmt.Sprint(p.OwnerReferences)
	})
	for _, n := range []string{"kept", "node-owned"} {
		if g, _ := gone(env, n); g {
			t.Errorf("%s deleted", n)
		}
	}
	// Deleting the owner (background) takes its pod.
	if err := env.Client.AppsV1().ReplicaSets("default").Delete(env.Ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("kept deleted with its owner", func() (bool, string) { return gone(env, "kept") })
}

func TestForegroundDeletesDependentsFirst(t *testing.T) {
	env := start(t,
		rs("web", []string{metav1.FinalizerDeleteDependents}, true),
		pod("a", ref("ReplicaSet", "web", "web", true)),
		pod("b", ref("ReplicaSet", "web", "web", true)),
	)
	env.Wait("dependents deleted and finalizer removed", func() (bool, string) {
		a, _ := gone(env, "a")
		b, _ := gone(env, "b")
		r, err := env.Client.AppsV1().ReplicaSets("default").Get(env.Ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(r.Finalizers) == 0 && !(a && b) {
			t.Fatalf("finalizer removed while dependents remain")
		}
		return a && b && len(r.Finalizers) == 0, fmt.Sprint(r.Finalizers)
	})
}

func TestOrphanStripsOwnerReferences(t *testing.T) {
	env := start(t,
		rs("web", []string{metav1.FinalizerOrphanDependents}, true),
		pod("a", ref("ReplicaSet", "web", "web", true)),
	)
	env.Wait("orphaned", func() (bool, string) {
		p, err := env.Client.CoreV1().Pods("default").Get(env.Ctx, "a", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned pod deleted: %v", err)
		}
		r, _ := env.Client.AppsV1().ReplicaSets("default").Get(env.Ctx, "web", metav1.GetOptions{})
		return len(p.OwnerReferences) == 0 && len(r.Finalizers) == 0, fmt.Sprint(p.OwnerReferences, r.Finalizers)
	})
}
