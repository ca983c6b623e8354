package scheduler

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func created(minute int) podOpt {
	return func(p *corev1.Pod) {
		p.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC))
	}
}

func popNames(t *testing.T, q *schedulingQueue, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		qp, ok := q.Pop(context.Background())
		if !ok {
			t.Fatal("queue closed")
		}
		out = append(out, qp.pod.Name)
	}
	return out
}

func TestQueueOrder(t *testing.T) {
	q := newSchedulingQueue(time.Second, 10*time.Second)
	q.Add(pod("old-low", "", "", created(1), priority(1)))
	q.Add(pod("new-high", "", "", created(3), priority(9)))
	q.Add(pod("old-high", "", "", created(2), priority(9)))
	q.Add(pod("no-priority", "", "", created(0)))
	got := popNames(t, q, 4)
	want := []string{"old-high", "new-high", "old-low", "no-priority"}
	if !equalStrings(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestQueueUnschedulableAndBackoff(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	q := newSchedulingQueue(time.Second, 4*time.Second)
	q.now = clk.now
	p := pod("p", "", "")
	q.Add(p)
	qp, _ := q.Pop(context.Background())
	q.Unschedulable(qp)

	// Our own status update does not wake it.
	withStatus := p.DeepCopy()
	withStatus.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Add(withStatus)
	clk.t = clk.t.Add(time.Minute)
	q.flush()
	if qp.where != inUnschedulable {
		t.Fatalf("after a status update: where %d, want unschedulable", qp.where)
	}

	// A cluster event wakes it, at once since its backoff is over.
	q.MoveAll()
	if qp.where != inActive {
		t.Fatalf("after MoveAll: where %d, want active", qp.where)
	}
	qp, _ = q.Pop(context.Background())
	// An event while it was being scheduled sends it to backoff, not to wait.
	q.MoveAll()
	q.Unschedulable(qp)
	if qp.where != inBackoff {
		t.Fatalf("event during its attempt: where %d, want backoff", qp.where)
	}
	// Second attempt: 2s of backoff.
	clk.t = clk.t.Add(1500 * time.Millisecond)
	q.flush()
	if qp.where != inBackoff {
		t.Fatalf("1.5s into a 2s backoff: where %d", qp.where)
	}
	clk.t = clk.t.Add(time.Second)
	q.flush()
	if qp.where != inActive {
		t.Fatalf("after backoff: where %d, want active", qp.where)
	}
	q.Delete(p)
	if len(q.active) != 0 || len(q.pods) != 0 {
		t.Fatalf("delete left %d active, %d known", len(q.active), len(q.pods))
	}
}
