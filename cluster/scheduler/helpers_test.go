package scheduler

import (
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	zone = "topology.kubernetes.io/zone"
	host = "kubernetes.io/hostname"
)

type nodeOpt func(*corev1.Node)

func node(name, cpu, mem string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{host: name}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(mem),
			corev1.ResourcePods:   resource.MustParse("110"),
		}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func nodeLabels(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func taint(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func maxPods(v string) nodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourcePods] = resource.MustParse(v) }
}

type podOpt func(*corev1.Pod)

func pod(name, cpu, mem string, opts ...podOpt) *corev1.Pod {
	req := corev1.ResourceList{}
	if cpu != "" {
		req[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: req},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func podLabels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func on(nodeName string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = nodeName } }

func priority(v int32) podOpt { return func(p *corev1.Pod) { p.Spec.Priority = &v } }

func nodeSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func toleration(t corev1.Toleration) podOpt {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, t) }
}

func affinity(a *corev1.Affinity) podOpt { return func(p *corev1.Pod) { p.Spec.Affinity = a } }

func spreadBy(key string, skew int32, when corev1.UnsatisfiableConstraintAction, sel map[string]string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: skew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
		})
	}
}

func antiAffinity(key string, sel map[string]string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{LabelSelector: &metav1.LabelSelector{MatchLabels: sel}, TopologyKey: key},
	}}}
}

func podAffinity(key string, sel map[string]string) *corev1.Affinity {
	return &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{LabelSelector: &metav1.LabelSelector{MatchLabels: sel}, TopologyKey: key},
	}}}
}

// cluster builds a cache with nodes and placed pods (their spec.nodeName
// says where).
func cluster(t *testing.T, nodes []*corev1.Node, placed []*corev1.Pod) *Cache {
	t.Helper()
	c := NewCache()
	for _, n := range nodes {
		c.AddNode(n)
	}
	for _, p := range placed {
		if p.Spec.NodeName == "" {
			t.Fatalf("placed pod %s names no node", p.Name)
		}
		c.AddPod(p)
	}
	return c
}

// filterAll runs the filters for p on every node and returns each node's
// reasons; nodes that fit have none.
func filterAll(c *Cache, p *corev1.Pod) map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	cy := newCycle(c, p)
	out := map[string][]string{}
	for _, n := range c.nodes {
		out[n.name] = cy.filter(n).reasons
	}
	return out
}

// feasibleNames lists the nodes without reasons, sorted.
func feasibleNames(res map[string][]string) []string {
	var out []string
	for n, rs := range res {
		if len(rs) == 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }
