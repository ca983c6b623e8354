package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPriorityAdmission(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	for _, pc := range []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
		{ObjectMeta: metav1.ObjectMeta{Name: "low"}, Value: 5, GlobalDefault: true},
	} {
		if _, err := c.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name, class string, prio *int32) *corev1.Pod {
		p := newPod(name, "")
		p.Spec.PriorityClassName, p.Spec.Priority = class, prio
		return p
	}
	wrong := int32(7)
	tests := []struct {
		pod       *corev1.Pod
		forbidden bool
		want      int32
		wantClass string
	}{
		{mk("named", "high", nil), false, 1000, "high"},
		{mk("default", "", nil), false, 5, "low"},
		{mk("builtin", "system-node-critical", nil), false, 2000001000, "system-node-critical"},
		{mk("unknown", "nope", nil), true, 0, ""},
		{mk("preset", "high", &wrong), true, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.pod.Name, func(t *testing.T) {
			got, err := c.CoreV1().Pods("default").Create(ctx, tc.pod, metav1.CreateOptions{})
			if tc.forbidden {
				if !apierrors.IsForbidden(err) {
					t.Fatalf("want 403, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Priority == nil || *got.Spec.Priority != tc.want || got.Spec.PriorityClassName != tc.wantClass {
				t.Errorf("priority %v class %q, want %d %q", got.Spec.Priority, got.Spec.PriorityClassName, tc.want, tc.wantClass)
			}
		})
	}
}

func TestNamespaceTermination(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Namespaces().Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CoreV1().Namespaces().Get(ctx, "gone", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace went before its finalizer: %v", err)
	}
	if ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
		t.Fatalf("deleted namespace: phase %s deletionTimestamp %v", ns.Status.Phase, ns.DeletionTimestamp)
	}
	// A plain update cannot drop the finalizer; /finalize can.
	ns.Spec.Finalizers = nil
	if ns, err = c.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil || len(ns.Spec.Finalizers) != 1 {
		t.Fatalf("update dropped spec.finalizers: %v %v", err, ns.Spec.Finalizers)
	}
	ns.Spec.Finalizers = nil
	if _, err := c.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, "gone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("finalized namespace remains: %v", err)
	}
}
