package scheduler

import (
	"errors"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func started(minutesAgo int) podOpt {
	return func(p *corev1.Pod) {
		t := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(-time.Duration(minutesAgo) * time.Minute))
		p.Status.StartTime = &t
	}
}

func TestPreemptionChoice(t *testing.T) {
	cases := []struct {
		name        string
		nodes       []*corev1.Node
		placed      []*corev1.Pod
		pod         *corev1.Pod
		wantNode    string
		wantVictims []string
	}{
		{
			name:        "fewest victims, lowest priority first",
			nodes:       []*corev1.Node{node("a", "2", "4Gi")},
			placed:      []*corev1.Pod{pod("low", "1", "", on("a"), priority(1)), pod("mid", "1", "", on("a"), priority(5))},
			pod:         pod("p", "1", "", priority(10)),
			wantNode:    "a",
			wantVictims: []string{"low"},
		},
		{
			name:        "higher-priority pods are never victims",
			nodes:       []*corev1.Node{node("a", "2", "4Gi")},
			placed:      []*corev1.Pod{pod("low", "1", "", on("a"), priority(1)), pod("high", "1", "", on("a"), priority(50))},
			pod:         pod("p", "2", "", priority(10)),
			wantNode:    "",
			wantVictims: nil,
		},
		{
			name:  "lowest highest-victim priority wins",
			nodes: []*corev1.Node{node("a", "1", "4Gi"), node("b", "1", "4Gi")},
			placed: []*corev1.Pod{
				pod("a-x", "1", "", on("a"), priority(5)),
				pod("b-x", "500m", "", on("b"), priority(2)), pod("b-y", "500m", "", on("b"), priority(3)),
			},
			pod:         pod("p", "1", "", priority(10)),
			wantNode:    "b",
			wantVictims: []string{"b-x", "b-y"},
		},
		{
			name:  "then fewest victims",
			nodes: []*corev1.Node{node("a", "1", "4Gi"), node("b", "1", "4Gi")},
			placed: []*corev1.Pod{
				pod("a-x", "1", "", on("a"), priority(3)),
				pod("b-x", "500m", "", on("b"), priority(3)), pod("b-y", "500m", "", on("b"), priority(3)),
			},
			pod:         pod("p", "1", "", priority(10)),
			wantNode:    "a",
			wantVictims: []string{"a-x"},
		},
		{
			name:  "then the most recently started victims",
			nodes: []*corev1.Node{node("a", "1", "4Gi"), node("b", "1", "4Gi")},
			placed: []*corev1.Pod{
				pod("a-x", "1", "", on("a"), priority(3), started(60)),
				pod("b-x", "1", "", on("b"), priority(3), started(5)),
			},
			pod:         pod("p", "1", "", priority(10)),
			wantNode:    "b",
			wantVictims: []string{"b-x"},
		},
		{
			name:  "anti-affinity resolved by evicting the matching pod",
			nodes: []*corev1.Node{node("a", "4", "4Gi")},
			placed: []*corev1.Pod{
				pod("web", "", "", podLabels("app", "web"), on("a"), priority(1)),
				pod("other", "", "", podLabels("app", "other"), on("a"), priority(1)),
			},
			pod:         pod("p", "", "", priority(10), affinity(antiAffinity(host, map[string]string{"app": "web"}))),
			wantNode:    "a",
			wantVictims: []string{"web"},
		},
		{
			name:  "too many pods",
			nodes: []*corev1.Node{node("a", "4", "4Gi", maxPods("2"))},
			placed: []*corev1.Pod{
				pod("x", "", "", on("a"), priority(1), started(10)),
				pod("y", "", "", on("a"), priority(1), started(20)),
			},
			pod:         pod("p", "", "", priority(10)),
			wantNode:    "a",
			wantVictims: []string{"x"}, // the older one is reprieved first
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(t, tc.nodes, tc.placed)
			_, err := New(c, Options{Seed: 1}).Schedule(tc.pod)
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FitError", err)
			}
			if tc.wantNode == "" {
				if fe.Preemption != nil {
					t.Fatalf("unexpected preemption on %s of %d pods", fe.Preemption.NodeName, len(fe.Preemption.Victims))
				}
				return
			}
			if fe.Preemption == nil {
				t.Fatalf("no preemption: %v", fe)
			}
			var names []string
			for _, v := range fe.Preemption.Victims {
				names = append(names, v.Name)
			}
			sort.Strings(names)
			if fe.Preemption.NodeName != tc.wantNode || !equalStrings(names, tc.wantVictims) {
				t.Errorf("got %s %v, want %s %v", fe.Preemption.NodeName, names, tc.wantNode, tc.wantVictims)
			}
			// The what-if evaluation leaves the cache as it found it.
			if got := len(c.PodsOn(tc.wantNode)); got != countOn(tc.placed, tc.wantNode) {
				t.Errorf("node %s holds %d pods after preemption, want %d", tc.wantNode, got, countOn(tc.placed, tc.wantNode))
			}
			if got := filterAll(c, tc.pod)[tc.wantNode]; len(got) == 0 {
				t.Errorf("node %s fits the pod after the dry run: state not restored", tc.wantNode)
			}
		})
	}
}

func countOn(pods []*corev1.Pod, node string) int {
	n := 0
	for _, p := range pods {
		if p.Spec.NodeName == node {
			n++
		}
	}
	return n
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNominatedNodeFirst: after preemption, the pod goes to the node it
// was nominated for once its victims are gone.
func TestNominatedNodeFirst(t *testing.T) {
	nodes := []*corev1.Node{node("a", "2", "4Gi"), node("b", "2", "4Gi")}
	c := cluster(t, nodes, []*corev1.Pod{pod("x", "1500m", "", on("b"))})
	p := pod("p", "1", "")
	p.Status.NominatedNodeName = "b"
	c.RemovePod(pod("x", "", "", on("b")))
	for i := 0; i < 5; i++ {
		got, err := New(c, Options{Seed: int64(i + 1)}).Schedule(p)
		if err != nil || got != "b" {
			t.Fatalf("got %q, %v; want b", got, err)
		}
	}
}

// TestNominatedPodsKeepTheirRoom: the room a preemption freed for a pod is
// not given to a pod of lower priority meanwhile, but is to a higher one.
func TestNominatedPodsKeepTheirRoom(t *testing.T) {
	c := cluster(t, []*corev1.Node{node("a", "2", "4Gi")}, nil)
	c.SetNominated(pod("preemptor", "1500m", "", priority(100)), "a")
	cases := []struct {
		name string
		pod  *corev1.Pod
		want []string
	}{
		{"lower priority is refused", pod("low", "1", "", priority(10)), []string{"Insufficient cpu"}},
		{"higher priority may take it", pod("higher", "1", "", priority(200)), nil},
		{"the nominated pod itself fits", pod("preemptor", "1500m", "", priority(100)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := filterAll(c, tc.pod)["a"]; !equalStrings(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	c.SetNominated(pod("preemptor", "", ""), "")
	if got := filterAll(c, pod("low", "1", "", priority(10)))["a"]; len(got) != 0 {
		t.Errorf("after clearing the nomination: %q", got)
	}
}
