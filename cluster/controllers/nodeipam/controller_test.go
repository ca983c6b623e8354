package nodeipam

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

func node(name, cidr string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	if cidr != "" {
		n.Spec.PodCIDRs = []string{cidr}
	}
	return n
}

func cidrs(env *ctrltest.Env) map[string]string {
	l, err := env.Client.CoreV1().Nodes().List(env.Ctx, metav1.ListOptions{})
	if err != nil {
		env.T.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range l.Items {
		out[n.Name] = n.Spec.PodCIDR
		if n.Spec.PodCIDR != "" && (len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR) {
			env.T.Errorf("node %s podCIDRs %v, podCIDR %s", n.Name, n.Spec.PodCIDRs, n.Spec.PodCIDR)
		}
	}
	return out
}

func TestAllocateKeepsExistingAndReusesFreed(t *testing.T) {
	env := ctrltest.New(t, node("a", "10.244.0.0/24"), node("b", ""), node("c", ""))
	c, err := New(env.API, env.Factory, env.Recorder, Config{})
	if err != nil {
		t.Fatal(err)
	}
	env.Start(func(ctx context.Context) { c.Run(ctx, 2) })
	env.Wait("b and c allocated", func() (bool, string) {
		m := cidrs(env)
		return m["b"] != "" && m["c"] != "", fmt.Sprint(m)
	})
	m := cidrs(env)
	seen := map[string]string{}
	for n, cidr := range m {
		if other, dup := seen[cidr]; dup {
			t.Fatalf("%s handed to %s and %s", cidr, other, n)
		}
		seen[cidr] = n
	}
	if m["a"] != "10.244.0.0/24" || !(m["b"] == "10.244.1.0/24" || m["b"] == "10.244.2.0/24") {
		t.Errorf("allocation %v", m)
	}
	freed := m["b"]
	if err := env.Client.CoreV1().Nodes().Delete(env.Ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Freed once the deletion is seen; d then gets the lowest free, b's.
	env.Wait("b's subnet free", func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, held := c.byNode["b"]
		return !held, ""
	})
	if _, err := env.Client.CoreV1().Nodes().Create(env.Ctx, node("d", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Wait("d allocated", func() (bool, string) { return cidrs(env)["d"] != "", fmt.Sprint(cidrs(env)) })
	if got := cidrs(env)["d"]; got != freed {
		t.Errorf("d got %s, want the freed %s", got, freed)
	}
}

func TestCIDRSet(t *testing.T) {
	cases := []struct {
		cluster string
		size    int
		want    []string
		err     bool
	}{
		{"10.244.0.0/16", 24, []string{"10.244.0.0/24", "10.244.1.0/24"}, false},
		{"10.0.0.0/22", 24, []string{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"}, false},
		{"fd00::/48", 64, []string{"fd00::/64", "fd00:0:0:1::/64"}, false},
		{"10.0.0.0/24", 16, nil, true},
	}
	for _, tc := range cases {
		s, err := newCIDRSet(tc.cluster, tc.size)
		if (err != nil) != tc.err {
			t.Fatalf("%s /%d: err %v", tc.cluster, tc.size, err)
		}
		if err != nil {
			continue
		}
		for _, w := range tc.want {
			got, err := s.allocate()
			if err != nil || got != w {
				t.Errorf("%s: got %s %v, want %s", tc.cluster, got, err, w)
			}
			if i, ok := s.index(got); !ok || s.subnet(i) != got {
				t.Errorf("%s: index of %s does not round-trip", tc.cluster, got)
			}
		}
	}
	s, _ := newCIDRSet("10.0.0.0/23", 24)
	_, _ = s.allocate()
	_, _ = s.allocate()
	if _, err := s.allocate(); err == nil {
		t.Error("allocated past the end")
	}
	if s.occupy("192.168.0.0/24") {
		t.Error("occupied a subnet outside the cluster CIDR")
	}
}
