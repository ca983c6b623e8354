package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// syncPeriod is how often a pod worker looks at its pod without being woken: it is
// when exits are noticed, probes run and back-offs end.
const syncPeriod = time.Second

// podWorker runs one pod: it owns everything the agent does for that pod, so that no
// two goroutines act on the same pod.
type podWorker struct {
	a   *Agent
	uid string

	mu      sync.Mutex
	pod     *corev1.Pod // the latest spec
	fromAPI bool        // pod came from the API (not only from disk)
	gone    bool        // the API object is gone: remove everything
	saved   bool        // the spec is on disk...
	savedRV string      // ...at this resourceVersion,
	savedAs []byte      // ...as this (the pod without its status)

	wakeC  chan struct{}
	done   chan struct{}
	synced atomic.Bool // a sync has compared the status with the API's

	// Owned by the run goroutine.
	backoff    map[string]*backoff    // by container name
	probes     map[string]*probeState // by engine container ID
	lastStatus *corev1.PodStatus      // what was last sent
	startTime  *metav1.Time
	mounts     map[string]string     // volume name -> host path, once prepared
	pulls      map[string]*pullState // image-pull back-off by container name
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	return &podWorker{a: a, uid: string(pod.UID), wakeC: make(chan struct{}, 1), done: make(chan struct{}),
		backoff: map[string]*backoff{}, probes: map[string]*probeState{}}
}

// update hands the worker a newer spec.
func (w *podWorker) update(pod *corev1.Pod, fromAPI bool) {
	w.mu.Lock()
	if w.fromAPI && !fromAPI {
		w.mu.Unlock()
		return // the API's copy is newer than the saved one
	}
	w.pod, w.fromAPI = pod.DeepCopy(), w.fromAPI || fromAPI
	w.mu.Unlock()
	w.wake()
}

func (w *podWorker) markGone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.wake()
}

func (w *podWorker) wake() {
	select {
	case w.wakeC <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (pod *corev1.Pod, gone, fromAPI bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.DeepCopy(), w.gone, w.fromAPI
}

// run syncs the pod until it is removed or ctx ends (the agent stops; the pod keeps
// running in the engine).
func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(syncPeriod)
	defer tick.Stop()
	for {
		if finished := w.sync(ctx); finished {
			w.a.forget(w.uid)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wakeC:
		case <-tick.C:
		}
	}
}

// sync does one round of work for the pod and says whether the worker is done.
func (w *podWorker) sync(ctx context.Context) bool {
	pod, gone, fromAPI := w.snapshot()
	if gone || pod.DeletionTimestamp != nil {
		return w.terminate(ctx, pod, gone)
	}
	if fromAPI && (!w.saved || pod.ResourceVersion != w.savedRV) {
		// Status updates change the resourceVersion too: write only a changed spec.
		bare := pod.DeepCopy()
		bare.Status, bare.ResourceVersion, bare.ManagedFields = corev1.PodStatus{}, "", nil
		data, _ := json.Marshal(bare)
		if w.saved && bytes.Equal(data, w.savedAs) {
			w.savedRV = pod.ResourceVersion
		} else if err := w.a.savePod(pod); err != nil {
			w.a.log.Warn("save pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		} else {
			w.saved, w.savedRV, w.savedAs = true, pod.ResourceVersion, data
		}
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		if w.lastStatus == nil {
			// Finished before (a restarted agent): nothing runs again.
			return false
		}
	}
	view := w.runPod(ctx, pod)
	status := w.podStatus(pod, view)
	if fromAPI {
		w.report(ctx, pod, status)
		w.synced.Store(w.lastStatus != nil)
	}
	return false
}

// reported says whether the worker has brought the API's status up to date once.
func (w *podWorker) reported() bool { return w.synced.Load() }

// workerOf is the worker of the pod with uid, if any.
func (a *Agent) workerOf(uid types.UID) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.workers[string(uid)]
}
