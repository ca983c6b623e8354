package cluster

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover/drover/cluster/controllers"
	"github.com/drover/drover/cluster/kube"
	"github.com/drover/drover/cluster/scheduler"
)

// lead is the leader's work: the scheduler, the controllers and the reaper of removed
// members, all clients of the API like any other.
func (s *serverRole) lead(ctx context.Context) {
	log := s.m.log.With("role", "leader")
	log.Info("leading the cluster")
	cs, err := s.serverClient()
	if err != nil {
		log.Error("leader's API client", "err", err)
		return
	}
	s.ensureNamespaces(ctx, cs)
	done := make(chan struct{}, 3)
	go func() {
		defer func() { done <- struct{}{} }()
		if err := scheduler.Run(ctx, cs, scheduler.RunOptions{}); err != nil && ctx.Err() == nil {
			log.Error("scheduler stopped", "err", err)
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		s.runControllers(ctx, cs)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		s.reapMembers(ctx, cs)
	}()
	for i := 0; i < 3; i++ {
		<-done
	}
}

// reapMembers revokes the certificate of a node whose Node object is deleted (kubectl
// delete node, drover node rm, drover cluster leave), and takes a server out of the Raft
// configuration.
func (s *serverRole) reapMembers(ctx context.Context, cs kube.Interface) {
	for ctx.Err() == nil {
		w, err := cs.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{})
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Deleted {
				continue
			}
			meta, ok := ev.Object.(metav1.Object)
			if !ok {
				continue
			}
			name := meta.GetName()
			if name == s.name || !s.rec.isMember(name) {
				continue
			}
			if err := s.rec.remove(ctx, name); err != nil {
				s.m.log.Warn("revoke a removed node", "node", name, "err", err)
			} else {
				s.m.log.Info("node removed: its certificate is revoked", "node", name)
			}
		}
		w.Stop()
	}
}

// clusterCIDR is the cluster's pod range: the node IPAM controller gives each node a /24
// of it, and the agents route it between the machines (Kubernetes' usual default).
const clusterCIDR = "10.244.0.0/16"

// runControllers runs kube-controller-manager's share on a fresh set of informers.
func (s *serverRole) runControllers(ctx context.Context, cs kube.Interface) {
	factory := kube.NewInformerFactory(cs, 0)
	if err := controllers.Run(ctx, cs, factory, controllers.Options{ClusterCIDR: clusterCIDR}); err != nil && ctx.Err() == nil {
		s.m.log.Error("controllers stopped", "err", err)
	}
}

// systemNamespaces exist in every cluster, as kube-apiserver makes them.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// ensureNamespaces makes the system namespaces that are missing.
func (s *serverRole) ensureNamespaces(ctx context.Context, cs kube.Interface) {
	for _, name := range systemNamespaces {
		for ctx.Err() == nil {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			s.m.log.Warn("create a system namespace", "namespace", name, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}
