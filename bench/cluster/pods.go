package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// podTimes is when the watch first saw each step of one pod, on the client's clock.
type podTimes struct {
	created, bound, running, ready time.Time
	node                           string
}

// podWatch records each pod's steps as a pod informer delivers them.
type podWatch struct {
	mu   sync.Mutex
	pods map[types.UID]*podTimes
}

func (w *podWatch) see(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.pods[p.UID]
	if t == nil {
		t = &podTimes{created: now}
		w.pods[p.UID] = t
	}
	if t.bound.IsZero() && p.Spec.NodeName != "" {
		t.bound, t.node = now, p.Spec.NodeName
	}
	if t.running.IsZero() && p.Status.Phase == corev1.PodRunning {
		t.running = now
	}
	if t.ready.IsZero() {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				t.ready = now
			}
		}
	}
}

// running says how many pods are Running.
func (w *podWatch) running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, t := range w.pods {
		if !t.running.IsZero() {
			n++
		}
	}
	return n
}

func podsMain(args []string) error {
	fs := flag.NewFlagSet("pods", flag.ExitOnError)
	var cf clientFlags
	cf.register(fs)
	replicas := fs.Int("replicas", 100, "the Deployment's replicas")
	image := fs.String("image", "busybox", "the pods' image, present on every node beforehand")
	ns := fs.String("namespace", "default", "namespace")
	name := fs.String("name", "bench-start", "the Deployment's name")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	keep := fs.Bool("keep", false, "leave the Deployment in place")
	_ = fs.Parse(args)
	cs, _, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return measurePods(ctx, cs, *ns, *name, *image, int32(*replicas), *keep)
}

func measurePods(ctx context.Context, cs kubernetes.Interface, ns, name, image string, replicas int32, keep bool) error {
	deps := cs.AppsV1().Deployments(ns)
	if err := deps.Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
		return fmt.Errorf("a Deployment %s/%s was left from an earlier run; deleted it: wait for its pods to go and run again", ns, name)
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete an earlier deployment %s: %w", name, err)
	}
	w := &podWatch{pods: map[types.UID]*podTimes{}}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=" + name }))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.see,
		UpdateFunc: func(_, o any) { w.see(o) },
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	// Shutdown waits for the informer, which stops only when stop closes: close it first.
	stop := make(chan struct{})
	f.Start(stop)
	defer f.Shutdown()
	defer close(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("pod watch did not sync: %w", ctx.Err())
	}
	if n := len(inf.GetStore().List()); n > 0 {
		return fmt.Errorf("%d pods labelled app=%s exist already: delete them and run again", n, name)
	}

	start := time.Now()
	d, err := deps.Create(ctx, deployment(name, image, replicas), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create deployment %s: %w", name, err)
	}
	createdIn := time.Since(start)
	if !keep {
		defer func() {
			// A fresh context: the measure's may have run out.
			dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer dcancel()
			_ = deps.Delete(dctx, d.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
		}()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for w.running() < int(replicas) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d pods Running when the time ran out", w.running(), replicas)
		case <-tick.C:
		}
	}
	allIn := time.Since(start)
	report(w, start, createdIn, allIn, replicas)
	return nil
}

func report(w *podWatch, start time.Time, createdIn, allIn time.Duration, replicas int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var created, bound, running, ready, own dist
	perNode := map[string]int{}
	for _, t := range w.pods {
		if t.running.IsZero() {
			continue // a pod of a replaced ReplicaSet would show here; none is expected
		}
		created = append(created, t.created.Sub(start))
		bound = append(bound, t.bound.Sub(start))
		running = append(running, t.running.Sub(start))
		own = append(own, t.running.Sub(t.created))
		if !t.ready.IsZero() {
			ready = append(ready, t.ready.Sub(start))
		}
		perNode[t.node]++
	}
	fmt.Printf("deployment of %d replicas: create call %s; all Running after %s\n", replicas, ms(createdIn), ms(allIn))
	fmt.Printf("from the create call to each pod's\n")
	fmt.Printf("  creation (seen)   %s\n", created)
	fmt.Printf("  binding (seen)    %s\n", bound)
	fmt.Printf("  Running (seen)    %s\n", running)
	fmt.Printf("  Ready (seen)      %s\n", ready)
	// Kubernetes' pod start-up SLI: from each pod's own creation to Running, both as a
	// watch sees them (the kubelet's image pulls excluded; the images are present here).
	fmt.Printf("from each pod's creation (seen) to its Running (seen)\n  %s\n", own)
	fmt.Printf("pods per node:")
	for _, n := range slices.Sorted(maps.Keys(perNode)) {
		fmt.Printf(" %s=%d", n, perNode[n])
	}
	fmt.Println()
	fmt.Printf("RESULT pod_startup p50_ms=%.1f p99_ms=%.1f max_ms=%.1f n=%d\n",
		msf(running.pct(0.5)), msf(running.pct(0.99)), msf(running.pct(1)), len(running))
	fmt.Printf("RESULT pod_startup_per_pod p50_ms=%.1f p99_ms=%.1f max_ms=%.1f n=%d\n",
		msf(own.pct(0.5)), msf(own.pct(0.99)), msf(own.pct(1)), len(own))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// deployment is a Deployment of busybox pods that sleep and leave at once on SIGTERM,
// pulled only when missing.
func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To(int64(1)),
					Containers: []corev1.Container{{
						Name:            "sleep",
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"},
					}},
				},
			},
		},
	}
}
