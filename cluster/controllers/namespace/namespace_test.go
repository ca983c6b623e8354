package namespace

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

func TestDeletedNamespaceEmptiedThenFinalized(t *testing.T) {
	now := metav1.Now()
	doomed := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "doomed", DeletionTimestamp: &now},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	kept := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	env := ctrltest.New(t, doomed, kept,
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "doomed"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "doomed"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "doomed"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "doomed"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "kept"}},
	)
	c := New(env.API, env.Factory)
	env.Start(func(ctx context.Context) { c.Run(ctx, 1) })
	env.Wait("doomed finalized", func() (bool, string) {
		ns, err := env.Client.CoreV1().Namespaces().Get(env.Ctx, "doomed", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(ns.Spec.Finalizers) == 0, fmt.Sprintf("%+v %s", ns.Spec, ns.Status.Phase)
	})
	if n := len(env.Pods("doomed", "")); n != 0 {
		t.Errorf("%d pods left in doomed", n)
	}
	for _, check := range []struct {
		what string
		err  func() error
	}{
		{"configmap", func() error {
			_, err := env.Client.CoreV1().ConfigMaps("doomed").Get(env.Ctx, "cm", metav1.GetOptions{})
			return err
		}},
		{"service", func() error {
			_, err := env.Client.CoreV1().Services("doomed").Get(env.Ctx, "svc", metav1.GetOptions{})
			return err
		}},
		{"deployment", func() error {
			_, err := env.Client.AppsV1().Deployments("doomed").Get(env.Ctx, "d", metav1.GetOptions{})
			return err
		}},
	} {
		if check.err() == nil {
			t.Errorf("%s left in doomed", check.what)
		}
	}
	ns, _ := env.Client.CoreV1().Namespaces().Get(env.Ctx, "doomed", metav1.GetOptions{})
	if ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase %q, want Terminating", ns.Status.Phase)
	}
	if n := len(env.Pods("kept", "")); n != 1 {
		t.Errorf("other namespace touched: %d pods", n)
	}
	if k, _ := env.Client.CoreV1().Namespaces().Get(env.Ctx, "kept", metav1.GetOptions{}); len(k.Spec.Finalizers) != 1 {
		t.Errorf("live namespace finalized")
	}
}
