package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/drover/drover/client"
	"github.com/drover/drover/cluster/kube"
)

// runPodInformer watches the pods bound to this node and hands each to its worker.
func (a *Agent) runPodInformer(ctx context.Context) {
	sel := fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
	// Through the typed client, which the fake clientset serves too.
	pods := a.cfg.API.CoreV1().Pods(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return pods.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(plainListWatch{lw}, &corev1.Pod{}, 0, cache.Indexers{})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podSeen(obj) },
		UpdateFunc: func(_, obj any) { a.podSeen(obj) },
		DeleteFunc: func(obj any) {
			if p, ok := kube.Deleted[*corev1.Pod](obj); ok && p.Spec.NodeName == a.cfg.NodeName {
				a.podGone(p.UID)
			}
		},
	})
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			a.mu.Lock()
			a.apiPods = inf.GetStore()
			a.mu.Unlock()
			close(a.apiSynced)
		}
	}()
	inf.Run(ctx.Done())
}

// plainListWatch asks the reflector for a LIST then a WATCH, never a streaming list:
// every API server serves those, and the fake clientset sends no bookmarks.
type plainListWatch struct{ *cache.ListWatch }

func (plainListWatch) IsWatchListSemanticsUnSupported() bool { return true }

// podSeen starts or updates the worker of a pod the API reports.
func (a *Agent) podSeen(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.cfg.NodeName {
		return // the fake clientset ignores field selectors
	}
	a.ensureWorker(pod, true)
}

// ensureWorker gives pod to its worker, starting one if needed.
func (a *Agent) ensureWorker(pod *corev1.Pod, fromAPI bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping {
		return
	}
	w, ok := a.workers[string(pod.UID)]
	// The spec goes in before a new worker starts: its first sync reads it.
	if !ok {
		w = newPodWorker(a, pod)
		a.workers[string(pod.UID)] = w
	}
	w.update(pod, fromAPI)
	if !ok {
		go w.run(a.runCtx)
	}
}

// podGone tells the worker of a pod that its API object is gone.
func (a *Agent) podGone(uid types.UID) {
	a.mu.Lock()
	w := a.workers[string(uid)]
	a.mu.Unlock()
	if w != nil {
		w.markGone()
	}
}

// forget drops a finished worker.
func (a *Agent) forget(uid string) {
	a.mu.Lock()
	delete(a.workers, uid)
	a.mu.Unlock()
}

// savePod keeps pod's spec on disk, so that the agent can run it while the API is away.
func (a *Agent) savePod(pod *corev1.Pod) error {
	dir := a.podDir(string(pod.UID))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	data, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "pod.json.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("save pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, "pod.json"))
	}
	if err != nil {
		return fmt.Errorf("save pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// loadSavedPods starts a worker for every pod saved by an earlier run.
func (a *Agent) loadSavedPods(ctx context.Context, _ *sync.WaitGroup) {
	entries, _ := os.ReadDir(filepath.Join(a.cfg.StateDir, "pods"))
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(a.podDir(e.Name()), "pod.json"))
		if err != nil {
			continue
		}
		var pod corev1.Pod
		if err := json.Unmarshal(data, &pod); err != nil || string(pod.UID) != e.Name() {
			a.log.Warn("saved pod unreadable", "uid", e.Name(), "err", err)
			continue
		}
		a.ensureWorker(&pod, false)
	}
}

// runHousekeeping removes, once the API has been listed, the engine pods and saved
// pods that no API pod explains. While the API is unreachable the informer keeps its
// last listing, so nothing is removed for want of an answer.
func (a *Agent) runHousekeeping(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-a.apiSynced:
	}
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		a.reconcileOrphans(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reconcileOrphans removes what belongs to pods the API does not have.
func (a *Agent) reconcileOrphans(ctx context.Context) {
	known := map[string]bool{}
	a.mu.Lock()
	store := a.apiPods
	a.mu.Unlock()
	for _, obj := range store.List() {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName == a.cfg.NodeName {
			known[string(p.UID)] = true
		}
	}
	// Workers started from saved specs whose pods are gone from the API.
	a.mu.Lock()
	var gone []*podWorker
	for uid, w := range a.workers {
		if !known[uid] {
			gone = append(gone, w)
		}
	}
	a.mu.Unlock()
	for _, w := range gone {
		w.markGone()
	}
	pods, err := a.cfg.Engine.PodList(ctx)
	if err != nil {
		return
	}
	for _, p := range pods {
		uid := p.Labels[labelUID]
		if uid == "" || p.Labels[labelNode] != a.cfg.NodeName || known[uid] {
			continue
		}
		a.mu.Lock()
		_, hasWorker := a.workers[uid]
		a.mu.Unlock()
		if hasWorker {
			continue // its worker removes it
		}
		a.log.Info("remove orphaned pod", "pod", p.Name)
		if err := removeEnginePod(ctx, a.cfg.Engine, p.ID, uid, 0); err != nil {
			a.log.Warn("remove orphaned pod", "pod", p.Name, "err", err)
			continue
		}
		_ = a.removePodDir(uid)
	}
}

// removeEnginePod stops the pod's containers within grace (SIGTERM, then SIGKILL) and
// removes the engine pod with them.
func removeEnginePod(ctx context.Context, e *client.Client, podID, uid string, grace time.Duration) error {
	ctrs, err := e.ContainerList(ctx, client.ListOptions{All: true, Filters: []string{"label=" + labelUID + "=" + uid}})
	if err != nil {
		return fmt.Errorf("list containers of pod %s: %w", podID, err)
	}
	var wg sync.WaitGroup
	for _, c := range ctrs {
		if !c.State.Running {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.ContainerStop(ctx, c.ID, &grace, "")
		}()
	}
	wg.Wait()
	for _, c := range ctrs {
		if err := e.ContainerRemove(ctx, c.ID, client.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove container %s: %w", c.Name, err)
		}
	}
	if podID != "" {
		if err := e.PodRemove(ctx, podID, true); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove pod %s: %w", podID, err)
		}
	}
	return nil
}
