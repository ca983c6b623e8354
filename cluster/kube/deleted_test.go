package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestDeleted(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	if p, ok := Deleted[*corev1.Pod](pod); !ok || p != pod {
		t.Errorf("plain object: got %v, %v", p, ok)
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "default/p", Obj: pod}
	if p, ok := Deleted[*corev1.Pod](tomb); !ok || p != pod {
		t.Errorf("tombstone: got %v, %v", p, ok)
	}
	if n, ok := Deleted[*corev1.Node](tomb); ok || n != nil {
		t.Errorf("a pod's tombstone read as a node: %v, %v", n, ok)
	}
	if _, ok := Deleted[*corev1.Pod]("not an object"); ok {
		t.Error("a string read as a pod")
	}
}
