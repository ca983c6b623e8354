// Package ctrltest runs controllers against client-go's fake clientset (its
// real object tracker and watches) for tests.
package ctrltest

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/kube"
	"github.com/drover/drover/cluster/kube/kubefake"
)

// Env is a fake API with a shared informer factory over it.
type Env struct {
	T        *testing.T
	Ctx      context.Context
	Client   *fake.Clientset
	API      kube.Interface // Client as the controllers take it
	Factory  *kube.InformerFactory
	Recorder *record.FakeRecorder
	// Cancel ends Ctx before the test does.
	Cancel context.CancelFunc
}

// New makes an Env whose creates get a uid, a creation time and generation
// 1 as the API server would give them (the fake tracker gives none).
func New(t *testing.T, objs ...runtime.Object) *Env {
	t.Helper()
	c := fake.NewClientset(objs...)
	// Resource versions as the API server keeps them: every write gets a
	// new one, and a status write from a stale copy is refused (the
	// tracker keeps none, so a controller writing from an old cache would
	// silently undo a newer status).
	var rv atomic.Int64
	next := func() string { return strconv.FormatInt(rv.Add(1), 10) }
	c.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if ua, ok := a.(k8stesting.UpdateAction); ok && ua.GetSubresource() == "" {
			if m, err := meta.Accessor(ua.GetObject()); err == nil {
				m.SetResourceVersion(next())
			}
		}
		return false, nil, nil
	})
	c.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "" {
			return false, nil, nil
		}
		m, err := meta.Accessor(ca.GetObject())
		if err != nil {
			return false, nil, nil
		}
		if m.GetUID() == "" {
			m.SetUID(uuid.NewUUID())
		}
		if ts := m.GetCreationTimestamp(); ts.IsZero() {
			m.SetCreationTimestamp(metav1.Now())
		}
		if m.GetGeneration() == 0 {
			m.SetGeneration(1)
		}
		m.SetResourceVersion(next())
		return false, nil, nil
	})
	// A status update changes only status, as on the API server (the
	// tracker would store the whole object, reverting a newer spec).
	c.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua, ok := a.(k8stesting.UpdateAction)
		if !ok || ua.GetSubresource() != "status" {
			return false, nil, nil
		}
		m, err := meta.Accessor(ua.GetObject())
		if err != nil {
			return false, nil, nil
		}
		cur, err := c.Tracker().Get(ua.GetResource(), ua.GetNamespace(), m.GetName())
		if err != nil {
			return true, nil, err
		}
		if cm, err := meta.Accessor(cur); err == nil && m.GetResourceVersion() != "" && cm.GetResourceVersion() != "" && m.GetResourceVersion() != cm.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(ua.GetResource().GroupResource(), m.GetName(), fmt.Errorf("stale resourceVersion %s, now %s", m.GetResourceVersion(), cm.GetResourceVersion()))
		}
		curU, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cur)
		if err != nil {
			return true, nil, err
		}
		newU, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ua.GetObject())
		if err != nil {
			return true, nil, err
		}
		curU["status"] = newU["status"]
		out := cur.DeepCopyObject()
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(curU, out); err != nil {
			return true, nil, err
		}
		if om, err := meta.Accessor(out); err == nil {
			om.SetResourceVersion(next())
		}
		if err := c.Tracker().Update(ua.GetResource(), out, ua.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, out, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	api := kubefake.Wrap(c)
	return &Env{T: t, Ctx: ctx, Client: c, API: api, Factory: kube.NewInformerFactory(api, 0), Recorder: record.NewFakeRecorder(1000), Cancel: cancel}
}

// Start starts the informers and runs each function in its own goroutine
// (controllers' Run), all stopped at the end of the test.
func (e *Env) Start(runs ...func(ctx context.Context)) {
	e.Factory.Start(e.Ctx.Done())
	for _, r := range runs {
		go r(e.Ctx)
	}
}

// Wait polls cond until it holds; the deadline only bounds a broken test,
// it is not what the test checks.
func (e *Env) Wait(what string, cond func() (bool, string)) {
	e.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(20 * time.Millisecond)
	}
	e.T.Fatalf("gave up waiting for %s: %s", what, last)
}

// Pods lists the pods of a namespace straight from the tracker.
func (e *Env) Pods(ns string, sel string) []corev1.Pod {
	if e.Ctx.Err() != nil {
		return nil
	}
	l, err := e.Client.CoreV1().Pods(ns).List(e.Ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		e.T.Fatalf("list pods: %v", err)
	}
	return l.Items
}

// SetPodReady marks a pod Running with Ready True (what a node agent would
// report once its containers are up).
func (e *Env) SetPodReady(p corev1.Pod, node string) {
	e.T.Helper()
	p.Status.Phase = corev1.PodRunning
	if node != "" && p.Spec.NodeName == "" {
		p.Spec.NodeName = node
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
	if _, err := e.Client.CoreV1().Pods(p.Namespace).Update(e.Ctx, &p, metav1.UpdateOptions{}); err != nil {
		e.T.Fatalf("mark pod %s ready: %v", p.Name, err)
	}
}

// Describe summarises pods for failure messages.
func Describe(pods []corev1.Pod) string {
	s := ""
	for _, p := range pods {
		s += fmt.Sprintf("%s(%s,ready=%v,node=%s) ", p.Name, p.Status.Phase, isReady(p), p.Spec.NodeName)
	}
	return s
}

func isReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Int32 returns a pointer to v.
func Int32(v int32) *int32 { return &v }

// Kubelet marks every pod Running and Ready on node as it appears, as a node
// agent would once its containers start, until stop is called or the test
// ends; stop returns once it no longer writes.
func (e *Env) Kubelet(ns, node string) (stop func()) {
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, p := range e.Pods(ns, "") {
				if p.DeletionTimestamp == nil && !isReady(p) && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					p.Status.Phase = corev1.PodRunning
					if p.Spec.NodeName == "" {
						p.Spec.NodeName = node
					}
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
					_, _ = e.Client.CoreV1().Pods(p.Namespace).Update(e.Ctx, &p, metav1.UpdateOptions{})
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}
