package apiserver

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func newPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func TestInformerSeesChanges(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CoreV1().Pods("default").Create(ctx, newPod("before", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	record := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
	has := func(s string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, x := range seen {
				if x == s {
					return true
				}
			}
			return false
		}
	}
	f := informers.NewSharedInformerFactory(c, 0)
	inf := f.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { record("add " + o.(*corev1.Pod).Name) },
		UpdateFunc: func(_, o any) {
			record("update " + o.(*corev1.Pod).Name + " " + o.(*corev1.Pod).Labels["v"])
		},
		DeleteFunc: func(o any) {
			if p, ok := o.(*corev1.Pod); ok {
				record("delete " + p.Name)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer never synced")
	}
	p, err := c.CoreV1().Pods("default").Create(ctx, newPod("during", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "2"
	if _, err := c.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Pods("default").Delete(ctx, "during", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	for _, want := range []string{"add before", "add during", "update during 2", "delete during"} {
		waitFor(t, ctx, has(want), want, out)
	}
}

func TestConflictsAndExpiry(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	p, err := c.CoreV1().Pods("default").Create(ctx, newPod("p", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := p.DeepCopy()
	p.Labels["x"] = "1"
	if _, err := c.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale.Labels["x"] = "2"
	_, err = c.CoreV1().Pods("default").Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `Operation cannot be fulfilled on pods "p": the object has been modified`) {
		t.Fatalf("stale update: %v", err)
	}

	// A watch from a compacted revision ends in a 410 Expired event.
	ts.store.compact()
	w, err := c.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: p.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Error {
			t.Fatalf("event %s, want ERROR", ev.Type)
		}
		st := apierrors.FromObject(ev.Object)
		if !apierrors.IsResourceExpired(st) && !apierrors.IsGone(st) {
			t.Fatalf("error event %v, want 410 Expired", st)
		}
		if code := st.(apierrors.APIStatus).Status().Code; code != 410 {
			t.Fatalf("code %d, want 410", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event from a compacted watch")
	}
	if err := c.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale.ResourceVersion}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with a stale precondition: %v", err)
	}
}

func TestNodeAuthorization(t *testing.T) {
	ts := startServer(t)
	admin, node := ts.client(), ts.nodeClient()
	ctx := context.Background()
	mine, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("node creates itself: %v", err)
	}
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, newPod("on-n1", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, newPod("on-n2", "n2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusPatch := []byte(`{"status":{"phase":"Running"}}`)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: "kube-node-lease"}}
	tests := []struct {
		name    string
		do      func() error
		allowed bool
	}{
		{"list pods", func() error { _, err := node.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); return err }, true},
		{"update own node status", func() error {
			mine.Status.Phase = corev1.NodeRunning
			_, err := node.CoreV1().Nodes().UpdateStatus(ctx, mine, metav1.UpdateOptions{})
			return err
		}, true},
		{"patch other node", func() error {
			_, err := node.CoreV1().Nodes().Patch(ctx, "n2", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}, false},
		{"patch status of bound pod", func() error {
			_, err := node.CoreV1().Pods("default").Patch(ctx, "on-n1", types.MergePatchType, statusPatch, metav1.PatchOptions{}, "status")
			return err
		}, true},
		{"patch status of another node's pod", func() error {
			_, err := node.CoreV1().Pods("default").Patch(ctx, "on-n2", types.MergePatchType, statusPatch, metav1.PatchOptions{}, "status")
			return err
		}, false},
		{"create pod", func() error {
			_, err := node.CoreV1().Pods("default").Create(ctx, newPod("x", "n1"), metav1.CreateOptions{})
			return err
		}, false},
		{"create own lease", func() error {
			_, err := node.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease, metav1.CreateOptions{})
			return err
		}, true},
		{"create another lease", func() error {
			l := lease.DeepCopy()
			l.Name = "n2"
			_, err := node.CoordinationV1().Leases("kube-node-lease").Create(ctx, l, metav1.CreateOptions{})
			return err
		}, false},
		{"delete bound pod", func() error {
			g := int64(0)
			return node.CoreV1().Pods("default").Delete(ctx, "on-n1", metav1.DeleteOptions{GracePeriodSeconds: &g})
		}, true},
		{"delete another node's pod", func() error { return node.CoreV1().Pods("default").Delete(ctx, "on-n2", metav1.DeleteOptions{}) }, false},
		{"list deployments", func() error {
			_, err := node.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
			return err
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.allowed && !apierrors.IsForbidden(err) {
				t.Fatalf("want 403 Forbidden, got %v", err)
			}
		})
	}
	_, err = node.CoreV1().Nodes().Patch(ctx, "n2", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	want := `nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes" in API group "" at the cluster scope`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("forbidden wording: %v, want %q", err, want)
	}
}
