package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover/drover/cluster/kube"
)

// TestKubeClient drives the components' narrow client (cluster/kube) against the real
// server: every verb of the typed client, the pod and namespace subresources, a watch,
// an informer with its lister, and discovery.
func TestKubeClient(t *testing.T) {
	ts := startServer(t)
	c, err := kube.NewForConfig(ts.restConfig(ts.pki.adminCert, ts.pki.adminKey))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pods := c.CoreV1().Pods("default")

	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p := newPod("k", "")
	p.Labels = map[string]string{"app": "k"}
	if p, err = pods.Create(ctx, p, metav1.CreateOptions{}); err != nil || p.UID == "" {
		t.Fatalf("create: %v (uid %q)", err, p.UID)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "k" {
			t.Fatalf("watch event %s %v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for the created pod")
	}
	if _, err := pods.Create(ctx, newPod("other", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=k"})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "k" {
		t.Fatalf("list by label: %v %v", err, l)
	}
	p.Labels["x"] = "1"
	if p, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil || p.Labels["x"] != "1" {
		t.Fatalf("update: %v", err)
	}
	stale := p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	if p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("update status: %v", err)
	}
	if _, err := pods.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update from a stale copy: %v, want a conflict", err)
	}
	if p, err = pods.Patch(ctx, "k", types.MergePatchType, []byte(`{"metadata":{"labels":{"y":"2"}}}`), metav1.PatchOptions{}); err != nil || p.Labels["y"] != "2" {
		t.Fatalf("patch: %v", err)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "k"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if p, err = pods.Get(ctx, "k", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "n1" {
		t.Fatalf("get after bind: %v node %q", err, p.Spec.NodeName)
	}
	zero := int64(0)
	if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: "default"}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &zero}}); err != nil {
		t.Fatalf("evict: %v", err)
	}
	if _, err := pods.Get(ctx, "k", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted pod: %v", err)
	}

	// An informer lists, then follows the watch; its lister reads the cache.
	f := kube.NewInformerFactory(c, 0)
	inf := f.Pods()
	fctx, cancel := context.WithCancel(ctx)
	f.Start(fctx.Done())
	defer func() { cancel(); f.Shutdown() }()
	for typ, ok := range f.WaitForCacheSync(fctx.Done()) {
		if !ok {
			t.Fatalf("informer of %v did not sync", typ)
		}
	}
	if _, err := pods.Create(ctx, newPod("late", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := inf.Lister().Pods("default").List(labels.Everything())
		if err == nil && len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lister has %d pods (%v), want other and late", len(got), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := pods.Delete(ctx, "other", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	// Discovery finds the served resources at their preferred versions.
	lists, err := kube.PreferredResources(ctx, c.CoreV1().RESTClient())
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			found[l.GroupVersion+"/"+r.Name] = true
		}
	}
	for _, want := range []string{"v1/pods", "v1/namespaces", "apps/v1/deployments", "coordination.k8s.io/v1/leases"} {
		if !found[want] {
			t.Errorf("discovery lacks %s (has %v)", want, found)
		}
	}
}
