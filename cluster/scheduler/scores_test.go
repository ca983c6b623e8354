package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scoreAll returns one plugin's normalized score per node, all nodes
// taken as feasible.
func scoreAll(c *Cache, strategy ScoringStrategy, p *corev1.Pod, plugin int) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	cy := newCycle(c, p)
	s := New(c, Options{Strategy: strategy, Seed: 1})
	s.score(cy, c.nodes)
	out := map[string]int64{}
	for i, n := range c.nodes {
		out[n.name] = s.rows[plugin][i]
	}
	return out
}

func TestScoreNodeResourcesFit(t *testing.T) {
	nodes := []*corev1.Node{node("empty", "4", "8Gi"), node("half", "4", "8Gi")}
	placed := []*corev1.Pod{pod("x", "2", "4Gi", on("half"))}
	cases := []struct {
		name     string
		strategy ScoringStrategy
		pod      *corev1.Pod
		want     map[string]int64
	}{
		// (4-1)/4 = 75 on both resources; half: (4-3)/4 = 25.
		{"least allocated", LeastAllocated, pod("p", "1", "2Gi"), map[string]int64{"empty": 75, "half": 25}},
		{"most allocated", MostAllocated, pod("p", "1", "2Gi"), map[string]int64{"empty": 25, "half": 75}},
		// No requests: 100m and 200Mi stand in. cpu (4000-100)*100/4000 = 97,
		// memory (8192-200)*100/8192 = 97.
		{"defaults for empty pods", LeastAllocated, pod("p", "", ""), map[string]int64{"empty": 97, "half": 47}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scoreAll(cluster(t, nodes, placed), tc.strategy, tc.pod, scoreResources)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScoreNodeAffinity(t *testing.T) {
	nodes := []*corev1.Node{
		node("ssd-a", "4", "8Gi", nodeLabels("disk", "ssd", zone, "a")),
		node("ssd-b", "4", "8Gi", nodeLabels("disk", "ssd", zone, "b")),
		node("hdd-b", "4", "8Gi", nodeLabels("disk", "hdd", zone, "b")),
	}
	pref := func(weight int32, key, val string) corev1.PreferredSchedulingTerm {
		return corev1.PreferredSchedulingTerm{Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{val}}}}}
	}
	p := pod("p", "", "", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
		pref(30, "disk", "ssd"), pref(10, zone, "a"),
	}}}))
	// raw 40, 30, 0 normalized to the max.
	want := map[string]int64{"ssd-a": 100, "ssd-b": 75, "hdd-b": 0}
	c := cluster(t, nodes, nil)
	// Twice: the second pod with these terms reads the memoized scores.
	for i := 0; i < 2; i++ {
		if got := scoreAll(c, LeastAllocated, p, scoreNodeAffinity); !reflect.DeepEqual(got, want) {
			t.Errorf("round %d: got %v, want %v", i, got, want)
		}
	}
}

func TestScoreTaintToleration(t *testing.T) {
	nodes := []*corev1.Node{
		node("clean", "4", "8Gi"),
		node("one", "4", "8Gi", taint("spot", "true", corev1.TaintEffectPreferNoSchedule)),
		node("two", "4", "8Gi", taint("spot", "true", corev1.TaintEffectPreferNoSchedule), taint("old", "", corev1.TaintEffectPreferNoSchedule)),
	}
	cases := []struct {
		name string
		pod  *corev1.Pod
		want map[string]int64
	}{
		{"intolerable counted", pod("p", "", ""), map[string]int64{"clean": 100, "one": 50, "two": 0}},
		{"tolerated ones ignored", pod("p", "", "", toleration(corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule})),
			map[string]int64{"clean": 100, "one": 100, "two": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := scoreAll(cluster(t, nodes, nil), LeastAllocated, tc.pod, scoreTaints); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScoreInterPodAffinity(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", "4", "8Gi", nodeLabels(zone, "a")),
		node("b1", "4", "8Gi", nodeLabels(zone, "b")),
		node("c1", "4", "8Gi", nodeLabels(zone, "c")),
	}
	term := func(key string, app string) corev1.PodAffinityTerm {
		return corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
	}
	placed := []*corev1.Pod{
		pod("db", "", "", podLabels("app", "db"), on("a1")),
		pod("cache", "", "", podLabels("app", "cache"), on("b1")),
		// An existing pod preferring to be away from web pods.
		pod("shy", "", "", podLabels("app", "shy"), on("c1"), affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: term(zone, "web")}}}})),
	}
	cases := []struct {
		name string
		pod  *corev1.Pod
		want map[string]int64
	}{
		// raw a=+8, b=-4, c=0: min-max normalized.
		{"preferred affinity and anti-affinity", pod("p", "", "", affinity(&corev1.Affinity{
			PodAffinity:     &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 8, PodAffinityTerm: term(zone, "db")}}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 4, PodAffinityTerm: term(zone, "cache")}}},
		})), map[string]int64{"a1": 100, "b1": 0, "c1": 33}},
		// raw a=0, b=0, c=-10 from the existing pod's preference.
		{"existing pods' preferences", pod("p", "", "", podLabels("app", "web")), map[string]int64{"a1": 100, "b1": 100, "c1": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := scoreAll(cluster(t, nodes, placed), LeastAllocated, tc.pod, scoreInterPod); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScorePodTopologySpread(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", "4", "8Gi", nodeLabels(zone, "a")),
		node("a2", "4", "8Gi", nodeLabels(zone, "a")),
		node("b1", "4", "8Gi", nodeLabels(zone, "b")),
		node("c1", "4", "8Gi", nodeLabels(zone, "c")),
		node("nozone", "4", "8Gi"),
	}
	web := map[string]string{"app": "web"}
	placed := []*corev1.Pod{
		pod("w1", "", "", podLabels("app", "web"), on("a1")),
		pod("w2", "", "", podLabels("app", "web"), on("a2")),
		pod("w3", "", "", podLabels("app", "web"), on("b1")),
	}
	// 3 zones among scored nodes: weight ln(5) = 1.609; raw a = 2*1.609 = 3,
	// b = 2, c = 0 (maxSkew 1 adds 0). Normalized 100*(max+min-s)/max.
	got := scoreAll(cluster(t, nodes, placed), LeastAllocated, pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 1, corev1.ScheduleAnyway, web)), scoreSpread)
	want := map[string]int64{"a1": 0, "a2": 0, "b1": 33, "c1": 100, "nozone": 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestScheduleSpreadsAndPacks(t *testing.T) {
	nodes := []*corev1.Node{node("a", "4", "8Gi"), node("b", "4", "8Gi"), node("c", "4", "8Gi")}
	for _, tc := range []struct {
		strategy ScoringStrategy
		want     map[string]int
	}{
		{LeastAllocated, map[string]int{"a": 2, "b": 2, "c": 2}},
		{MostAllocated, map[string]int{"a": 4, "b": 2}},
	} {
		t.Run(string(tc.strategy), func(t *testing.T) {
			c := cluster(t, nodes, nil)
			s := New(c, Options{Strategy: tc.strategy, Seed: 7})
			got := map[string]int{}
			for i := 0; i < 6; i++ {
				p := pod("p"+itoa(int64(i)), "1", "1Gi")
				n, err := s.Schedule(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.AssumePod(p, n); err != nil {
					t.Fatal(err)
				}
				got[n]++
			}
			// Packing fills one node before the next; which ones is a tie.
			if tc.strategy == MostAllocated {
				counts := []int{}
				for _, v := range got {
					counts = append(counts, v)
				}
				if len(counts) != 2 || counts[0]+counts[1] != 6 || (counts[0] != 4 && counts[1] != 4) {
					t.Errorf("got %v, want one full node and one with 2", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for _, tc := range []struct {
		pct       int32
		all, want int
	}{
		{0, 50, 50}, {0, 1000, 420}, {0, 5000, 500}, {0, 10000, 500}, {0, 1500, 570}, {30, 1000, 300}, {100, 5000, 5000}, {1, 1000, 100},
	} {
		if got := numFeasibleNodesToFind(tc.pct, tc.all); got != tc.want {
			t.Errorf("pct %d, %d nodes: got %d, want %d", tc.pct, tc.all, got, tc.want)
		}
	}
}
