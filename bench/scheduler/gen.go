package main

import (
	"fmt"
	"math/rand"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	zoneKey     = "topology.kubernetes.io/zone"
	hostnameKey = "kubernetes.io/hostname"
	typeKey     = "node.kubernetes.io/instance-type"
)

var sizes = []struct {
	name     string
	cpu, mem string
}{
	{"small", "4", "16Gi"}, {"medium", "8", "32Gi"}, {"large", "16", "64Gi"}, {"xlarge", "32", "128Gi"}, {"metal", "64", "256Gi"},
}

// genNodes makes a mixed fleet: five sizes, three zones, disk types, a
// tenth tainted for dedicated work and some preferring not to take pods.
func genNodes(rnd *rand.Rand, count int) []*corev1.Node {
	nodes := make([]*corev1.Node, count)
	for i := range nodes {
		sz := sizes[rnd.Intn(len(sizes))]
		name := fmt.Sprintf("node-%05d", i)
		disk := "hdd"
		if rnd.Intn(2) == 0 {
			disk = "ssd"
		}
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				hostnameKey: name,
				zoneKey:     fmt.Sprintf("zone-%c", 'a'+i%3),
				typeKey:     sz.name,
				"disktype":  disk,
			}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(sz.cpu),
				corev1.ResourceMemory: resource.MustParse(sz.mem),
				corev1.ResourcePods:   resource.MustParse("110"),
			}},
		}
		switch r := rnd.Intn(20); {
		case r < 2:
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
		case r < 3:
			n.Spec.Taints = []corev1.Taint{{Key: "spot", Value: "true", Effect: corev1.TaintEffectPreferNoSchedule}}
		}
		nodes[i] = n
	}
	return nodes
}

// genPods makes pods in apps of 25 replicas, each app of one kind: plain
// requests, nodeSelector, required or preferred node affinity, tolerating
// the dedicated taint, anti-affinity by hostname, or spread over zones.
func genPods(rnd *rand.Rand, count int) []*corev1.Pod {
	const replicas = 25
	pods := make([]*corev1.Pod, count)
	var tmpl *corev1.Pod
	for i := range pods {
		app := i / replicas
		if i%replicas == 0 {
			tmpl = appTemplate(rnd, app)
		}
		p := tmpl.DeepCopy()
		p.Name = fmt.Sprintf("app-%04d-%02d", app, i%replicas)
		p.UID = "" // the algorithm keys pods by namespace/name
		pods[i] = p
	}
	return pods
}

func appTemplate(rnd *rand.Rand, app int) *corev1.Pod {
	name := fmt.Sprintf("app-%04d", app)
	cpu := fmt.Sprintf("%dm", 100+rnd.Intn(10)*100)
	mem := fmt.Sprintf("%dMi", 128*(1+rnd.Intn(16)))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", app%10), Labels: map[string]string{"app": name, "tier": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:      "main",
			Image:     "registry.example/app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}},
		}}},
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	switch app % 10 {
	case 0, 1, 2, 3: // plain
	case 4:
		p.Spec.NodeSelector = map[string]string{"disktype": "ssd"}
	case 5:
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: typeKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"large", "xlarge", "metal"}}}}},
		}}}
	case 6:
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
			{Weight: 50, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: zoneKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"zone-a"}}}}},
			{Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disktype", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}},
		}}}
	case 7:
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
		p.Spec.NodeSelector = map[string]string{"disktype": "hdd"}
	case 8:
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			{LabelSelector: sel, TopologyKey: hostnameKey},
		}}}
	case 9:
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: zoneKey, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: sel,
		}}
	}
	return p
}
