package agent

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// KubeletVersion is what the node reports as its kubelet's version.
const KubeletVersion = "v1.37.2-drover"

const (
	leaseNamespace      = "kube-node-lease"
	leaseDuration       = 10 // seconds
	leaseRenewInterval  = 2 * time.Second
	nodeStatusMaxPeriod = 10 * time.Second
	maxPods             = 110
)

// Reserves kept from capacity for the system and the agent itself.
var (
	reservedCPU     = resource.MustParse("100m")
	reservedMemory  = resource.MustParse("256Mi")
	reservedStorage = resource.MustParse("1Gi")
)

// runNode registers the node, then renews its lease every 2 s and updates its status
// when its conditions change and at least every 10 s, until ctx ends.
func (a *Agent) runNode(ctx context.Context) {
	if err := retry(ctx, func() error {
		err := a.registerNode(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("register node", "err", err)
		}
		return err
	}); err != nil {
		return
	}
	var lastSent []corev1.NodeCondition
	var lastSentAt time.Time
	tick := time.NewTicker(leaseRenewInterval)
	defer tick.Stop()
	for {
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("renew node lease", "err", err)
		}
		if a.podNetwork() == nil {
			// Waiting for the servers to assign the podCIDR: look each beat, not each 10 s.
			if n, err := a.cfg.API.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{}); err == nil {
				a.notePodCIDR(ctx, n.Spec.PodCIDR)
			}
		}
		conds := a.conditions()
		if !sameConditions(conds, lastSent) || time.Since(lastSentAt) >= nodeStatusMaxPeriod-leaseRenewInterval/2 {
			if err := a.updateNodeStatus(ctx, conds); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("update node status", "err", err)
				}
			} else {
				lastSent, lastSentAt = conds, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// registerNode creates the Node, or updates the one a previous run registered.
func (a *Agent) registerNode(ctx context.Context) error {
	nodes := a.cfg.API.CoreV1().Nodes()
	want := a.nodeObject()
	created, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		want.Spec = created.Spec
		created.Status = want.Status
		_, err = nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return wrap("report node status", err)
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", a.cfg.NodeName, err)
	}
	cur, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", a.cfg.NodeName, err)
	}
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	maps.Copy(cur.Labels, want.Labels)
	for _, t := range want.Spec.Taints {
		if !hasTaint(cur.Spec.Taints, t) {
			cur.Spec.Taints = append(cur.Spec.Taints, t)
		}
	}
	updated, err := nodes.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update node %s: %w", a.cfg.NodeName, err)
	}
	updated.Status = want.Status
	_, err = nodes.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return wrap("report node status", err)
}

func hasTaint(ts []corev1.Taint, t corev1.Taint) bool {
	for _, x := range ts {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

// nodeObject is the Node as this machine describes itself.
func (a *Agent) nodeObject() *corev1.Node {
	labels := map[string]string{
		"kubernetes.io/hostname": a.cfg.NodeName,
		"kubernetes.io/os":       runtime.GOOS,
		"kubernetes.io/arch":     runtime.GOARCH,
	}
	maps.Copy(labels, a.cfg.Labels)
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: a.cfg.Taints},
	}
	n.Status = a.nodeStatus(a.conditions())
	return n
}

// nodeStatus is the node's status with conds.
func (a *Agent) nodeStatus(conds []corev1.NodeCondition) corev1.NodeStatus {
	m, err := readMachine(a.cfg.StateDir)
	if err != nil {
		a.log.Warn("read machine", "err", err)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.cpus), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.memoryBytes, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(m.storageBytes, resource.BinarySI),
	}
	allocatable := corev1.ResourceList{}
	for name, q := range capacity {
		q = q.DeepCopy()
		switch name {
		case corev1.ResourceCPU:
			q.Sub(reservedCPU)
		case corev1.ResourceMemory:
			q.Sub(reservedMemory)
		case corev1.ResourceEphemeralStorage:
			q.Sub(reservedStorage)
		}
		if q.Sign() < 0 {
			q = resource.Quantity{Format: q.Format}
		}
		allocatable[name] = q
	}
	engineVersion := "unknown"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if info, err := a.cfg.Engine.Info(ctx); err == nil {
		engineVersion = info.Version
	}
	hostname, _ := os.Hostname()
	var addrs []corev1.NodeAddress
	if a.cfg.Advertise != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a.cfg.Advertise})
	}
	if hostname != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
	}
	port := int32(max(a.cfg.KubeletPort, 0))
	if addr := a.kubeletPortNow(); addr > 0 {
		port = int32(addr)
	}
	return corev1.NodeStatus{
		Capacity:        capacity,
		Allocatable:     allocatable,
		Conditions:      conds,
		Addresses:       addrs,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               m.machineID,
			BootID:                  m.bootID,
			KernelVersion:           m.kernel,
			OSImage:                 m.osImage,
			ContainerRuntimeVersion: "drover://" + engineVersion,
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         m.operatingSyst,
			Architecture:            m.architecture,
		},
	}
}

// kubeletPortNow is the port the kubelet API actually listens on (0 before it does).
func (a *Agent) kubeletPortNow() int {
	select {
	case addr := <-a.kubeletAddr:
		a.kubeletAddr <- addr
		_, p, _ := splitHostPort(addr.String())
		n, _ := strconv.Atoi(p)
		return n
	default:
		return 0
	}
}

// conditions are the node's conditions as of now; transition times are filled from the
// last ones reported.
func (a *Agent) conditions() []corev1.NodeCondition {
	now := metav1.Now()
	m, _ := readMachine(a.cfg.StateDir)
	cond := func(t corev1.NodeConditionType, bad bool, okReason, okMsg, badReason, badMsg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, Message: okMsg, LastHeartbeatTime: now, LastTransitionTime: now}
		if bad {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, badReason, badMsg
		}
		return c
	}
	memPressure := m.memoryBytes > 0 && m.memAvailable < 100<<20
	diskPressure := m.storageBytes > 0 && m.storageFree*10 < m.storageBytes
	pidPressure := m.pidMax > 0 && m.pidsInUse*10 > m.pidMax*9
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "drover agent is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}
	if _, err := a.cfg.Engine.Info(context.Background()); err != nil {
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "KubeletNotReady", "drover engine unreachable: "+err.Error()
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, memPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
		cond(corev1.NodeDiskPressure, diskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "KubeletHasDiskPressure", "kubelet has disk pressure"),
		cond(corev1.NodePIDPressure, pidPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
		ready,
	}
}

// sameConditions compares the statuses and reasons of two condition lists.
func sameConditions(a, b []corev1.NodeCondition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason {
			return false
		}
	}
	return true
}

// updateNodeStatus sends the node's status with conds, keeping the transition times of
// conditions whose status did not change; it also picks up the node's podCIDR.
func (a *Agent) updateNodeStatus(ctx context.Context, conds []corev1.NodeCondition) error {
	nodes := a.cfg.API.CoreV1().Nodes()
	cur, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return a.registerNode(ctx) // deleted meanwhile: register again
	}
	if err != nil {
		return fmt.Errorf("get node %s: %w", a.cfg.NodeName, err)
	}
	for i := range conds {
		for _, old := range cur.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	st := a.nodeStatus(conds)
	cur.Status.Capacity, cur.Status.Allocatable, cur.Status.Conditions = st.Capacity, st.Allocatable, st.Conditions
	cur.Status.Addresses, cur.Status.DaemonEndpoints, cur.Status.NodeInfo = st.Addresses, st.DaemonEndpoints, st.NodeInfo
	if _, err := nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of node %s: %w", a.cfg.NodeName, err)
	}
	a.notePodCIDR(ctx, cur.Spec.PodCIDR)
	return nil
}

// renewLease renews (or creates) the node's lease.
func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.cfg.API.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: leaseNamespace, OwnerReferences: a.nodeOwner(ctx)},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(a.cfg.NodeName),
				LeaseDurationSeconds: ptr.To[int32](leaseDuration), RenewTime: &now},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return wrap("create node lease", err)
	}
	if err != nil {
		return fmt.Errorf("get node lease: %w", err)
	}
	l.Spec.HolderIdentity = ptr.To(a.cfg.NodeName)
	l.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDuration)
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return wrap("renew node lease", err)
}

// nodeOwner makes the node the owner of its lease, so that the lease goes with it.
func (a *Agent) nodeOwner(ctx context.Context) []metav1.OwnerReference {
	n, err := a.cfg.API.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil || n.UID == "" {
		return nil
	}
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
}

// wrap adds context to err, if any.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
