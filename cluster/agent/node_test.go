package agent

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/cluster/kube/kubefake"
	"github.com/drover/drover/internal/testutil"
)

// TestNodeRegistration: the agent registers its node (capacity, allocatable, info,
// labels, Ready), renews its lease, and makes the pod network once the node has a
// podCIDR.
func TestNodeRegistration(t *testing.T) {
	d := testutil.StartDaemon(t)
	engine := client.New(d.Socket)
	defer engine.Close()
	cs := fake.NewClientset()
	a, err := New(Config{NodeName: "node-r", Engine: engine, API: kubefake.Wrap(cs), StateDir: t.TempDir(), Advertise: "10.1.2.3",
		KubeletPort: -1, Labels: map[string]string{"zone": "a"},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var node *corev1.Node
	testutil.Eventually(t, 30*time.Second, func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, "node-r", metav1.GetOptions{})
		node = n
		return err == nil && len(n.Status.Conditions) > 0
	}, "the node to be registered with its status")
	cpu := node.Status.Capacity[corev1.ResourceCPU]
	mem := node.Status.Capacity[corev1.ResourceMemory]
	pods := node.Status.Capacity[corev1.ResourcePods]
	storage := node.Status.Capacity[corev1.ResourceEphemeralStorage]
	if cpu.Value() != int64(runtime.NumCPU()) || mem.Value() <= 0 || pods.Value() != 110 || storage.Value() <= 0 {
		t.Fatalf("capacity = %v", node.Status.Capacity)
	}
	allocMem := node.Status.Allocatable[corev1.ResourceMemory]
	if allocMem.Cmp(mem) >= 0 {
		t.Fatalf("allocatable memory %v is not below capacity %v", allocMem.String(), mem.String())
	}
	info := node.Status.NodeInfo
	if info.KubeletVersion != KubeletVersion || info.ContainerRuntimeVersion[:len("drover://")] != "drover://" ||
		info.OperatingSystem != "linux" || info.Architecture != runtime.GOARCH || info.KernelVersion == "" || info.OSImage == "" {
		t.Fatalf("nodeInfo = %+v", info)
	}
	for k, v := range map[string]string{"kubernetes.io/hostname": "node-r", "kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH, "zone": "a"} {
		if node.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints = %v", node.Spec.Taints)
	}
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port != 0 {
		t.Errorf("kubelet port %d reported with no kubelet API", node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
	hasIP := false
	for _, ad := range node.Status.Addresses {
		hasIP = hasIP || ad.Type == corev1.NodeInternalIP && ad.Address == "10.1.2.3"
	}
	if !hasIP {
		t.Errorf("addresses = %v", node.Status.Addresses)
	}
	// Ready is True; the pressure conditions are reported (their value is the host's).
	want := map[corev1.NodeConditionType]bool{corev1.NodeReady: true, corev1.NodeMemoryPressure: true, corev1.NodeDiskPressure: true, corev1.NodePIDPressure: true}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && (c.Status != corev1.ConditionTrue || c.Reason != "KubeletReady") {
			t.Errorf("Ready = %s (%s), want True", c.Status, c.Reason)
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("conditions missing: %v", want)
	}

	// The lease: created, then renewed.
	var first *metav1.MicroTime
	testutil.Eventually(t, 30*time.Second, func() bool {
		l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, "node-r", metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return false
		}
		if *l.Spec.LeaseDurationSeconds != 10 || *l.Spec.HolderIdentity != "node-r" {
			t.Fatalf("lease spec = %+v", l.Spec)
		}
		first = l.Spec.RenewTime
		return true
	}, "the node lease")
	testutil.Eventually(t, 30*time.Second, func() bool {
		l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, "node-r", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first.Time)
	}, "the node lease to be renewed")

	// The servers' controller assigns a podCIDR: the agent makes the pod network.
	subnet := testutil.FreeSubnet(t).String()
	node, _ = cs.CoreV1().Nodes().Get(ctx, "node-r", metav1.GetOptions{})
	node.Spec.PodCIDR = subnet
	if _, err := cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got api.Network
	testutil.Eventually(t, 30*time.Second, func() bool {
		got, err = engine.NetworkInspect(ctx, "drover-cluster")
		return err == nil
	}, "the pod network")
	if got.Subnet != subnet {
		t.Fatalf("pod network subnet = %s, want the podCIDR %s", got.Subnet, subnet)
	}
}
