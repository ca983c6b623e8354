package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/cluster/kube"
	"github.com/drover/drover/cluster/pki"
	"github.com/drover/drover/internal/errdefs"
)

// engineNodeLabel marks the engine pods the node agent made (cluster/agent's label).
const engineNodeLabel = "cluster.drover.io/node"

// adminClient is a clientset for this server's own API with its server identity
// (system:masters), for the node commands.
func (m *Manager) adminClient() (kube.Interface, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.server()
	if err != nil {
		return nil, err
	}
	return s.serverClient()
}

func (m *Manager) handleNodeList(_ http.ResponseWriter, r *http.Request) (any, error) {
	cs, err := m.adminClient()
	if err != nil {
		return nil, err
	}
	list, err := cs.CoreV1().Nodes().List(r.Context(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := []api.ClusterNode{}
	for _, n := range list.Items {
		out = append(out, nodeSummary(&n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// nodeSummary is a node as kubectl get nodes shows it.
func nodeSummary(n *corev1.Node) api.ClusterNode {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		}
	}
	sort.Strings(roles)
	role := "<none>"
	if len(roles) > 0 {
		role = strings.Join(roles, ",")
	}
	s := api.ClusterNode{Name: n.Name, Status: status, Roles: role, Created: n.CreationTimestamp.Time, Version: n.Status.NodeInfo.KubeletVersion}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			s.InternalIP = a.Address
		}
	}
	return s
}

func (m *Manager) handleCordon(cordon bool) func(http.ResponseWriter, *http.Request) (any, error) {
	return func(_ http.ResponseWriter, r *http.Request) (any, error) {
		cs, err := m.adminClient()
		if err != nil {
			return nil, err
		}
		return nil, setUnschedulable(r.Context(), cs, r.PathValue("name"), cordon)
	}
}

func setUnschedulable(ctx context.Context, cs kube.Interface, name string, on bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	_, err := cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: no node %q in the cluster (drover node ls lists them)", errdefs.ErrNotFound, name)
	}
	return err
}

// handleDrain cordons the node and evicts its pods (as kubectl drain does), then waits
// until they are gone. Pods no controller owns are refused unless forced; DaemonSet pods
// stay, as kubectl drain --ignore-daemonsets leaves them.
func (m *Manager) handleDrain(_ http.ResponseWriter, r *http.Request) (any, error) {
	var req api.NodeDrain
	req.GracePeriod = -1
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Timeout <= 0 {
		req.Timeout = 5 * time.Minute
	}
	cs, err := m.adminClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), req.Timeout)
	defer cancel()
	name := r.PathValue("name")
	if err := setUnschedulable(ctx, cs, name, true); err != nil {
		return nil, err
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", name).String()})
	if err != nil {
		return nil, err
	}
	var unmanaged []string
	var evict []corev1.Pod
	for _, p := range pods.Items {
		owner := metav1.GetControllerOf(&p)
		switch {
		case owner != nil && owner.Kind == "DaemonSet":
		case owner == nil && !req.Force:
			unmanaged = append(unmanaged, p.Namespace+"/"+p.Name)
		default:
			evict = append(evict, p)
		}
	}
	if len(unmanaged) > 0 {
		return nil, fmt.Errorf("%w: pods no controller owns would not be started again elsewhere: %s; use --force to delete them anyway",
			errdefs.ErrConflict, strings.Join(unmanaged, ", "))
	}
	for _, p := range evict {
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
		if req.GracePeriod >= 0 {
			g := int64(req.GracePeriod)
			ev.DeleteOptions = &metav1.DeleteOptions{GracePeriodSeconds: &g}
		}
		if err := cs.CoreV1().Pods(p.Namespace).EvictV1(ctx, ev); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("evict %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	for _, p := range evict {
		for {
			cur, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || (err == nil && cur.UID != p.UID) {
				break
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("drain %s: pod %s/%s still there after %s", name, p.Namespace, p.Name, req.Timeout)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil, nil
}

// handleNodeRemove deletes a node: its certificate stops working (the leader revokes it)
// and, for a server, it leaves the Raft configuration.
func (m *Manager) handleNodeRemove(_ http.ResponseWriter, r *http.Request) (any, error) {
	m.mu.Lock()
	s, err := m.server()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if name == s.name {
		return nil, fmt.Errorf("%w: %s is this machine: run \"drover cluster leave\" instead", errdefs.ErrInvalidArgument, name)
	}
	cs, err := s.serverClient()
	if err != nil {
		return nil, err
	}
	err = cs.CoreV1().Nodes().Delete(r.Context(), name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		if !s.rec.isMember(name) {
			return nil, fmt.Errorf("%w: no node %q in the cluster", errdefs.ErrNotFound, name)
		}
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if s.st.IsLeader() {
		return nil, s.rec.remove(r.Context(), name)
	}
	return nil, nil // the leader's reaper revokes it when it sees the Node go
}

// deleteOwnNode removes this machine's Node through the API, as itself.
func (m *Manager) deleteOwnNode(ctx context.Context, mb *membership) error {
	kp, err := pki.ReadKeyPair(m.pkiDir(), "node")
	if err != nil {
		return err
	}
	caCert, err := readCACert(m.pkiDir())
	if err != nil {
		return err
	}
	cs, err := apiClient(mb.Servers, caCert.Raw, kp)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err = cs.CoreV1().Nodes().Delete(ctx, mb.NodeName, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// removeClusterPods removes the engine pods the node agent made on this machine.
func (m *Manager) removeClusterPods(ctx context.Context) {
	engine := client.New(m.cfg.EngineSocket)
	pods, err := engine.PodList(ctx)
	if err != nil {
		m.log.Warn("list the engine's pods", "err", err)
		return
	}
	for _, p := range pods {
		if _, ok := p.Labels[engineNodeLabel]; !ok {
			continue
		}
		if err := engine.PodRemove(ctx, p.ID, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			m.log.Warn("remove a cluster pod", "pod", p.Name, "err", err)
		}
	}
}
