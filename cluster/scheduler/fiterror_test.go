package scheduler

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestFitErrorMessage(t *testing.T) {
	never := corev1.PreemptNever
	cases := []struct {
		name   string
		nodes  []*corev1.Node
		placed []*corev1.Pod
		pod    *corev1.Pod
		want   string
	}{
		{
			name: "resources and selector",
			nodes: []*corev1.Node{
				node("a", "1", "4Gi", nodeLabels("disk", "ssd")), node("b", "1", "4Gi", nodeLabels("disk", "ssd")),
				node("c", "8", "4Gi"), node("d", "8", "4Gi"), node("e", "8", "4Gi"),
			},
			pod:  pod("p", "2", "1Gi", nodeSelector("disk", "ssd")),
			want: "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.",
		},
		{
			name:  "nothing preemption could fix",
			nodes: []*corev1.Node{node("a", "1", "1Gi", cordoned), node("b", "1", "1Gi", taint("k", "v", corev1.TaintEffectNoSchedule)), node("c", "1", "1Gi")},
			pod:   pod("p", "", "", on("zz")),
			// Each node reports its first failing filter only.
			want: "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match the requested node name. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:   "every insufficient resource counts",
			nodes:  []*corev1.Node{node("a", "1", "1Gi"), node("b", "1", "1Gi")},
			placed: []*corev1.Pod{pod("x", "1", "1Gi", on("a"), priority(10))},
			pod:    pod("p", "2", "2Gi"),
			want:   "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
		},
		{
			name:   "victims would not be enough",
			nodes:  []*corev1.Node{node("a", "1", "1Gi")},
			placed: []*corev1.Pod{pod("x", "500m", "", on("a"))},
			pod:    pod("p", "2", "", priority(100)),
			want:   "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:   "preemption policy never",
			nodes:  []*corev1.Node{node("a", "1", "1Gi")},
			placed: []*corev1.Pod{pod("x", "1", "", on("a"))},
			pod:    pod("p", "1", "", priority(100), func(p *corev1.Pod) { p.Spec.PreemptionPolicy = &never }),
			want:   "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(cluster(t, tc.nodes, tc.placed), Options{Seed: 1})
			_, err := s.Schedule(tc.pod)
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FitError", err)
			}
			if fe.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", fe.Error(), tc.want)
			}
			if fe.Preemption != nil {
				t.Errorf("unexpected preemption on %s", fe.Preemption.NodeName)
			}
		})
	}
}

func TestScheduleNoNodes(t *testing.T) {
	_, err := New(NewCache(), Options{}).Schedule(pod("p", "", ""))
	if !errors.Is(err, ErrNoNodes) {
		t.Fatalf("got %v, want ErrNoNodes", err)
	}
}
