package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type filterCase struct {
	name   string
	nodes  []*corev1.Node
	placed []*corev1.Pod
	pod    *corev1.Pod
	want   map[string][]string // per node: reasons, nil when it fits
}

func runFilterCases(t *testing.T, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(t, tc.nodes, tc.placed)
			got := filterAll(c, tc.pod)
			for n, want := range tc.want {
				if !reflect.DeepEqual(got[n], want) {
					t.Errorf("node %s: got %q, want %q", n, got[n], want)
				}
			}
		})
	}
}

func TestFilterNodeUnschedulable(t *testing.T) {
	tolerate := toleration(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	runFilterCases(t, []filterCase{
		{name: "cordoned refuses", nodes: []*corev1.Node{node("a", "1", "1Gi", cordoned), node("b", "1", "1Gi")},
			pod: pod("p", "", ""), want: map[string][]string{"a": {ReasonUnschedulable}, "b": nil}},
		{name: "toleration admits", nodes: []*corev1.Node{node("a", "1", "1Gi", cordoned)},
			pod: pod("p", "", "", tolerate), want: map[string][]string{"a": nil}},
	})
}

func TestFilterNodeName(t *testing.T) {
	runFilterCases(t, []filterCase{
		{name: "only the named node", nodes: []*corev1.Node{node("a", "1", "1Gi"), node("b", "1", "1Gi")},
			pod: pod("p", "", "", on("b")), want: map[string][]string{"a": {ReasonNodeName}, "b": nil}},
	})
}

func TestFilterTaintToleration(t *testing.T) {
	nodes := []*corev1.Node{
		node("noschedule", "1", "1Gi", taint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
		node("noexecute", "1", "1Gi", taint("dedicated", "gpu", corev1.TaintEffectNoExecute)),
		node("prefer", "1", "1Gi", taint("dedicated", "gpu", corev1.TaintEffectPreferNoSchedule)),
	}
	runFilterCases(t, []filterCase{
		{name: "untolerated", nodes: nodes, pod: pod("p", "", ""),
			want: map[string][]string{"noschedule": {ReasonTaint}, "noexecute": {ReasonTaint}, "prefer": nil}},
		{name: "tolerated by equal", nodes: nodes,
			pod:  pod("p", "", "", toleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule})),
			want: map[string][]string{"noschedule": nil, "noexecute": {ReasonTaint}}},
		{name: "tolerated by exists without effect", nodes: nodes,
			pod:  pod("p", "", "", toleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})),
			want: map[string][]string{"noschedule": nil, "noexecute": nil}},
		{name: "wrong value", nodes: nodes,
			pod:  pod("p", "", "", toleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cpu"})),
			want: map[string][]string{"noschedule": {ReasonTaint}}},
	})
}

func TestFilterNodeAffinity(t *testing.T) {
	nodes := []*corev1.Node{
		node("ssd-a", "1", "1Gi", nodeLabels("disk", "ssd", zone, "a")),
		node("hdd-b", "1", "1Gi", nodeLabels("disk", "hdd", zone, "b")),
	}
	required := func(terms ...corev1.NodeSelectorTerm) podOpt {
		return affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}})
	}
	inZone := func(op corev1.NodeSelectorOperator, v ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: zone, Operator: op, Values: v}}}
	}
	runFilterCases(t, []filterCase{
		{name: "nodeSelector", nodes: nodes, pod: pod("p", "", "", nodeSelector("disk", "ssd")),
			want: map[string][]string{"ssd-a": nil, "hdd-b": {ReasonNodeAffinity}}},
		{name: "required In", nodes: nodes, pod: pod("p", "", "", required(inZone(corev1.NodeSelectorOpIn, "b"))),
			want: map[string][]string{"ssd-a": {ReasonNodeAffinity}, "hdd-b": nil}},
		{name: "terms are ORed", nodes: nodes, pod: pod("p", "", "", required(inZone(corev1.NodeSelectorOpIn, "b"), inZone(corev1.NodeSelectorOpIn, "a"))),
			want: map[string][]string{"ssd-a": nil, "hdd-b": nil}},
		{name: "selector and affinity both apply", nodes: nodes, pod: pod("p", "", "", nodeSelector("disk", "ssd"), required(inZone(corev1.NodeSelectorOpNotIn, "a"))),
			want: map[string][]string{"ssd-a": {ReasonNodeAffinity}, "hdd-b": {ReasonNodeAffinity}}},
		{name: "matchFields on name", nodes: nodes, pod: pod("p", "", "", required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"hdd-b"}}}})),
			want: map[string][]string{"ssd-a": {ReasonNodeAffinity}, "hdd-b": nil}},
	})
}

func TestFilterNodeResourcesFit(t *testing.T) {
	nodes := []*corev1.Node{node("a", "2", "4Gi"), node("small", "2", "4Gi", maxPods("1"))}
	placed := []*corev1.Pod{pod("x", "1500m", "1Gi", on("a")), pod("y", "100m", "100Mi", on("small"))}
	withInit := pod("p", "100m", "100Mi", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: mustQ("1")}}}}
	})
	sidecar := pod("p", "300m", "", func(p *corev1.Pod) {
		always := corev1.ContainerRestartPolicyAlways
		p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: mustQ("300m")}}}}
	})
	runFilterCases(t, []filterCase{
		{name: "cpu short", nodes: nodes, placed: placed, pod: pod("p", "600m", "1Gi"),
			want: map[string][]string{"a": {"Insufficient cpu"}, "small": {ReasonTooManyPods}}},
		{name: "cpu and memory short", nodes: nodes, placed: placed, pod: pod("p", "1", "4Gi"),
			want: map[string][]string{"a": {"Insufficient cpu", "Insufficient memory"}, "small": {ReasonTooManyPods, "Insufficient memory"}}},
		{name: "fits", nodes: nodes, placed: placed, pod: pod("p", "500m", "3Gi"),
			want: map[string][]string{"a": nil}},
		// max(sum of containers 100m, init 1) = 1 cpu: more than the 500m left.
		{name: "init container dominates", nodes: nodes, placed: placed, pod: withInit,
			want: map[string][]string{"a": {"Insufficient cpu"}}},
		// A sidecar runs beside the containers: 300m + 300m = 600m.
		{name: "sidecar adds up", nodes: nodes, placed: placed, pod: sidecar,
			want: map[string][]string{"a": {"Insufficient cpu"}}},
		{name: "empty pod skips resources", nodes: nodes, placed: placed, pod: pod("p", "", ""),
			want: map[string][]string{"a": nil, "small": {ReasonTooManyPods}}},
	})
}

func TestFilterPodTopologySpread(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", "4", "8Gi", nodeLabels(zone, "a")),
		node("a2", "4", "8Gi", nodeLabels(zone, "a")),
		node("b1", "4", "8Gi", nodeLabels(zone, "b")),
		node("c1", "4", "8Gi", nodeLabels(zone, "c"), nodeLabels("disk", "ssd")),
		node("nozone", "4", "8Gi"),
	}
	web := map[string]string{"app": "web"}
	placed := []*corev1.Pod{
		pod("w1", "", "", podLabels("app", "web"), on("a1")),
		pod("w2", "", "", podLabels("app", "web"), on("a2")),
		pod("w3", "", "", podLabels("app", "web"), on("b1")),
		pod("other", "", "", podLabels("app", "db"), on("c1")),
	}
	minDomains := func(v int32) podOpt {
		return func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].MinDomains = &v }
	}
	runFilterCases(t, []filterCase{
		// zone counts a=2 b=1 c=0: min 0, so only c takes a skew-1 pod.
		{name: "skew 1", nodes: nodes, placed: placed, pod: pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 1, corev1.DoNotSchedule, web)),
			want: map[string][]string{"a1": {ReasonSpread}, "b1": {ReasonSpread}, "c1": nil, "nozone": {ReasonSpreadLabel}}},
		{name: "skew 2", nodes: nodes, placed: placed, pod: pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 2, corev1.DoNotSchedule, web)),
			want: map[string][]string{"a1": {ReasonSpread}, "b1": nil, "c1": nil}},
		// With nodeAffinityPolicy Honor, a pod selecting only zones a and b
		// sees a=2 b=1, min 1: a is at skew 2.
		{name: "node affinity narrows domains", nodes: nodes, placed: placed,
			pod: pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 1, corev1.DoNotSchedule, web), affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: zone, Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}}}}})),
			want: map[string][]string{"a1": {ReasonSpread}, "b1": nil, "c1": {ReasonNodeAffinity}}},
		// minDomains 4 with 3 zones: the global minimum is taken as 0.
		{name: "minDomains", nodes: nodes, placed: placed, pod: pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 2, corev1.DoNotSchedule, web), minDomains(4)),
			want: map[string][]string{"a1": {ReasonSpread}, "b1": nil}},
		{name: "pod not matching its own selector", nodes: nodes, placed: placed, pod: pod("p", "", "", spreadBy(zone, 1, corev1.DoNotSchedule, web)),
			want: map[string][]string{"a1": {ReasonSpread}, "b1": nil, "c1": nil}},
		{name: "terminating pods do not count", nodes: nodes, placed: append([]*corev1.Pod{
			pod("gone", "", "", podLabels("app", "web"), on("c1"), func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }),
		}, placed...), pod: pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 1, corev1.DoNotSchedule, web)),
			want: map[string][]string{"a1": {ReasonSpread}, "b1": {ReasonSpread}, "c1": nil}},
		{name: "ScheduleAnyway does not filter", nodes: nodes, placed: placed, pod: pod("p", "", "", podLabels("app", "web"), spreadBy(zone, 1, corev1.ScheduleAnyway, web)),
			want: map[string][]string{"a1": nil, "nozone": nil}},
	})
}

func TestFilterInterPodAffinity(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", "4", "8Gi", nodeLabels(zone, "a")),
		node("a2", "4", "8Gi", nodeLabels(zone, "a")),
		node("b1", "4", "8Gi", nodeLabels(zone, "b")),
	}
	placed := []*corev1.Pod{
		pod("db", "", "", podLabels("app", "db"), on("a1")),
		pod("lonely", "", "", podLabels("app", "lonely"), on("b1"), affinity(antiAffinity(zone, map[string]string{"app": "web"}))),
	}
	other := func(p *corev1.Pod) { p.Namespace = "other" }
	runFilterCases(t, []filterCase{
		{name: "anti-affinity by hostname", nodes: nodes, placed: placed,
			pod:  pod("p", "", "", affinity(antiAffinity(host, map[string]string{"app": "db"}))),
			want: map[string][]string{"a1": {ReasonPodAntiAffinity}, "a2": nil, "b1": nil}},
		{name: "anti-affinity by zone", nodes: nodes, placed: placed,
			pod:  pod("p", "", "", affinity(antiAffinity(zone, map[string]string{"app": "db"}))),
			want: map[string][]string{"a1": {ReasonPodAntiAffinity}, "a2": {ReasonPodAntiAffinity}, "b1": nil}},
		{name: "affinity by zone", nodes: nodes, placed: placed,
			pod:  pod("p", "", "", affinity(podAffinity(zone, map[string]string{"app": "db"}))),
			want: map[string][]string{"a1": nil, "a2": nil, "b1": {ReasonPodAffinity}}},
		{name: "affinity in another namespace finds nothing", nodes: nodes, placed: placed,
			pod:  pod("p", "", "", other, affinity(podAffinity(zone, map[string]string{"app": "db"}))),
			want: map[string][]string{"a1": {ReasonPodAffinity}, "b1": {ReasonPodAffinity}}},
		{name: "first pod of a self-affine group goes anywhere", nodes: nodes, placed: placed,
			pod:  pod("p", "", "", podLabels("app", "cache"), affinity(podAffinity(zone, map[string]string{"app": "cache"}))),
			want: map[string][]string{"a1": nil, "b1": nil}},
		{name: "existing pod's anti-affinity", nodes: nodes, placed: placed,
			pod:  pod("p", "", "", podLabels("app", "web")),
			want: map[string][]string{"a1": nil, "b1": {ReasonExistingAntiAffinity}}},
		{name: "anti-affinity over all namespaces", nodes: nodes, placed: placed,
			pod: pod("p", "", "", other, affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
				{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, TopologyKey: host, NamespaceSelector: &metav1.LabelSelector{}},
			}}})),
			want: map[string][]string{"a1": {ReasonPodAntiAffinity}, "a2": nil}},
	})
}

// TestCountsFollowPlacements checks the incremental counters: a pod assumed
// after a counter exists is seen by the next pod, and forgetting it undoes it.
func TestCountsFollowPlacements(t *testing.T) {
	c := cluster(t, []*corev1.Node{node("a", "4", "8Gi"), node("b", "4", "8Gi")}, nil)
	next := pod("p", "", "", affinity(antiAffinity(host, map[string]string{"app": "web"})))
	if got := feasibleNames(filterAll(c, next)); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("before: feasible %v", got)
	}
	w := pod("w", "", "", podLabels("app", "web"))
	if err := c.AssumePod(w, "a"); err != nil {
		t.Fatal(err)
	}
	if got := feasibleNames(filterAll(c, next)); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("after assume: feasible %v", got)
	}
	c.ForgetPod(w)
	if got := feasibleNames(filterAll(c, next)); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("after forget: feasible %v", got)
	}
	// Relabelled through an update, the pod leaves the counts.
	w2 := w.DeepCopy()
	w2.Spec.NodeName = "b"
	c.AddPod(w2)
	w3 := w2.DeepCopy()
	w3.Labels = map[string]string{"app": "db"}
	c.UpdatePod(w3)
	if got := feasibleNames(filterAll(c, next)); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("after relabel: feasible %v", got)
	}
}
