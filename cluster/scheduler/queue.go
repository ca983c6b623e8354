package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// unschedulableTimeout is how long a pod waits for a cluster event before
// it is tried again anyway, kube-scheduler's default.
const unschedulableTimeout = 5 * time.Minute

// queuedPod is a pending pod and its scheduling history.
type queuedPod struct {
	pod          *corev1.Pod
	key          string
	attempts     int
	backoffUntil time.Time
	parkedAt     time.Time
	popCycle     uint64
	index        int // in the active heap, -1 when not there
	where        int
}

const (
	inActive = iota + 1
	inBackoff
	inUnschedulable
	inFlight
)

// schedulingQueue holds pending pods: active ones by priority then age,
// ones backing off after a failure, and unschedulable ones waiting for a
// node or pod event that could make them fit.
type schedulingQueue struct {
	mu             sync.Mutex
	cond           *sync.Cond
	active         activeHeap
	pods           map[string]*queuedPod
	moveCycle      uint64
	initialBackoff time.Duration
	maxBackoff     time.Duration
	closed         bool
	now            func() time.Time
}

func newSchedulingQueue(initial, max time.Duration) *schedulingQueue {
	q := &schedulingQueue{pods: map[string]*queuedPod{}, initialBackoff: initial, maxBackoff: max, now: time.Now}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues a new pending pod, or refreshes the object of a queued one.
func (q *schedulingQueue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := PodKey(pod)
	if qp := q.pods[key]; qp != nil {
		old := qp.pod
		qp.pod = pod
		if qp.where == inActive {
			heap.Fix(&q.active, qp.index)
		} else if qp.where == inUnschedulable && specChanged(old, pod) {
			// A new spec or labels may fit; a status update (our own
			// condition, say) changes nothing.
			q.toBackoffOrActive(qp)
		}
		return
	}
	qp := &queuedPod{pod: pod, key: key, index: -1}
	q.pods[key] = qp
	q.pushActive(qp)
}

func specChanged(old, cur *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, cur.Spec) || !equalLabels(old.Labels, cur.Labels)
}

// Delete drops a pod that was bound or deleted.
func (q *schedulingQueue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := PodKey(pod)
	qp := q.pods[key]
	if qp == nil {
		return
	}
	if qp.where == inActive {
		heap.Remove(&q.active, qp.index)
	}
	delete(q.pods, key)
}

// SetPod records a newer object of a popped pod (one we just updated).
func (q *schedulingQueue) SetPod(qp *queuedPod, pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp.pod = pod
}

// Pod returns the newest object of a queued pod.
func (q *schedulingQueue) Pod(qp *queuedPod) *corev1.Pod {
	q.mu.Lock()
	defer q.mu.Unlock()
	return qp.pod
}

// Pop waits for the most important active pod.
func (q *schedulingQueue) Pop(ctx context.Context) (*queuedPod, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.active) == 0 && !q.closed && ctx.Err() == nil {
		q.cond.Wait()
	}
	if q.closed || ctx.Err() != nil {
		return nil, false
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	qp.where = inFlight
	qp.attempts++
	qp.popCycle = q.moveCycle
	return qp, true
}

// Done forgets a pod that was assumed on a node.
func (q *schedulingQueue) Done(qp *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[qp.key] == qp {
		delete(q.pods, qp.key)
	}
}

// Unschedulable parks a pod that fits nowhere until an event could change
// that; if such an event came while it was being scheduled, it backs off
// instead, so the event is not missed.
func (q *schedulingQueue) Unschedulable(qp *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[qp.key] != qp {
		return // deleted or bound meanwhile
	}
	if q.moveCycle > qp.popCycle {
		q.backoff(qp)
		return
	}
	qp.where = inUnschedulable
	qp.parkedAt = q.now()
}

// Retry backs a pod off after an error that was not about fitting.
func (q *schedulingQueue) Retry(qp *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[qp.key] != qp {
		q.pods[qp.key] = qp
	}
	q.backoff(qp)
}

// MoveAll gives every unschedulable pod another try after a cluster event.
func (q *schedulingQueue) MoveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle++
	for _, qp := range q.pods {
		if qp.where == inUnschedulable {
			q.toBackoffOrActive(qp)
		}
	}
}

// flush moves pods whose backoff ended to active, and unschedulable pods
// that waited too long.
func (q *schedulingQueue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for _, qp := range q.pods {
		switch {
		case qp.where == inBackoff && !now.Before(qp.backoffUntil):
			q.pushActive(qp)
		case qp.where == inUnschedulable && now.Sub(qp.parkedAt) >= unschedulableTimeout:
			q.toBackoffOrActive(qp)
		}
	}
}

func (q *schedulingQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *schedulingQueue) backoff(qp *queuedPod) {
	d := q.initialBackoff
	for i := 1; i < qp.attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	if d > q.maxBackoff {
		d = q.maxBackoff
	}
	qp.backoffUntil = q.now().Add(d)
	qp.where = inBackoff
}

func (q *schedulingQueue) toBackoffOrActive(qp *queuedPod) {
	if qp.attempts > 0 && q.now().Before(qp.backoffUntil) {
		qp.where = inBackoff
		return
	}
	q.pushActive(qp)
}

func (q *schedulingQueue) pushActive(qp *queuedPod) {
	qp.where = inActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

// activeHeap orders by priority, then by creation time.
type activeHeap []*queuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	pi, pj := corev1helpers.PodPriority(h[i].pod), corev1helpers.PodPriority(h[j].pod)
	if pi != pj {
		return pi > pj
	}
	return h[i].pod.CreationTimestamp.Before(&h[j].pod.CreationTimestamp)
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *activeHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.index = len(*h)
	*h = append(*h, qp)
}
func (h *activeHeap) Pop() any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	qp.index = -1
	return qp
}
