// Package nodelifecycle watches node heartbeats (Leases in kube-node-lease
// and the node's own status): a node silent for the grace period is marked
// Ready=Unknown and tainted unreachable, and its pods that do not tolerate
// that are evicted so their controllers replace them elsewhere.
package nodelifecycle

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/drover/drover/cluster/kube"
)

// LeaseNamespace holds one Lease per node, named after it, that the node
// agent renews as its heartbeat.
const LeaseNamespace = corev1.NamespaceNodeLease

// Config sets the timings; zero values take the defaults.
type Config struct {
	// GracePeriod without a heartbeat before a node is Unknown (10s).
	GracePeriod time.Duration
	// EvictionDelay after the NoExecute taint before intolerant pods are
	// evicted (5s).
	EvictionDelay time.Duration
	// Period between health checks (1s); it adds to the reaction time.
	Period time.Duration
}

// Controller is the node lifecycle controller.
type Controller struct {
	client    kube.Interface
	nodes     corelisters.NodeLister
	leases    coordlisters.LeaseLister
	pods      corelisters.PodLister
	synced    []cache.InformerSynced
	recorder  record.EventRecorder
	cfg       Config
	now       func() time.Time
	mu        sync.Mutex
	health    map[string]*health
	taintSeen map[string]time.Time // node/taint key -> first seen, for taints without timeAdded
}

// health is what the controller last saw of a node's heartbeat, and when
// (its own clock, so node clock skew does not matter).
type health struct {
	renew     time.Time // lease renewTime
	heartbeat time.Time // Ready condition lastHeartbeatTime
	probed    time.Time
	ready     corev1.ConditionStatus // last Ready status seen, for NodeNotReady events
}

// New wires the controller to the factory's Node, Lease and Pod informers.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = 10 * time.Second
	}
	if cfg.EvictionDelay <= 0 {
		cfg.EvictionDelay = 5 * time.Second
	}
	if cfg.Period <= 0 {
		cfg.Period = time.Second
	}
	nInf := factory.Nodes()
	lInf := factory.Leases()
	pInf := factory.Pods()
	c := &Controller{
		client: client, recorder: recorder, cfg: cfg, now: time.Now,
		nodes: nInf.Lister(), leases: lInf.Lister(), pods: pInf.Lister(),
		synced:    []cache.InformerSynced{nInf.Informer().HasSynced, lInf.Informer().HasSynced, pInf.Informer().HasSynced},
		health:    map[string]*health{},
		taintSeen: map[string]time.Time{},
	}
	nInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.nodeDeleted})
	return c
}

func (c *Controller) nodeDeleted(obj interface{}) {
	n, ok := kube.Deleted[*corev1.Node](obj)
	if !ok {
		return
	}
	c.mu.Lock()
	delete(c.health, n.Name)
	c.mu.Unlock()
}

// Run checks node health every period until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	if !cache.WaitForNamedCacheSync("node-lifecycle", ctx.Done(), c.synced...) {
		return
	}
	t := time.NewTicker(c.cfg.Period)
	defer t.Stop()
	for {
		c.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Controller) check(ctx context.Context) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	now := c.now()
	for _, n := range nodes {
		silent := c.observe(n, now)
		if err := c.reconcileNode(ctx, n, silent, now); err != nil {
			klog.V(2).InfoS("node health", "node", n.Name, "err", err)
		}
	}
	c.evict(ctx, now)
	c.collectOrphans(ctx, nodes)
}

// readyChanged records a node's Ready status and reports whether it just
// stopped being True.
func (c *Controller) readyChanged(name string, st corev1.ConditionStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.health[name]
	if !ok {
		return false
	}
	was := h.ready
	h.ready = st
	return was == corev1.ConditionTrue && st != corev1.ConditionTrue
}

// observe records any new heartbeat and reports whether the node has been
// silent for longer than the grace period.
func (c *Controller) observe(n *corev1.Node, now time.Time) bool {
	var renew, hb time.Time
	if l, err := c.leases.Leases(LeaseNamespace).Get(n.Name); err == nil && l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.Time
	}
	if rc := readyCondition(n); rc != nil {
		hb = rc.LastHeartbeatTime.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.health[n.Name]
	if !ok {
		// First sight (or controller start): the grace period starts now.
		c.health[n.Name] = &health{renew: renew, heartbeat: hb, probed: now}
		return false
	}
	if !renew.Equal(h.renew) || !hb.Equal(h.heartbeat) {
		h.renew, h.heartbeat, h.probed = renew, hb, now
	}
	return now.Sub(h.probed) > c.cfg.GracePeriod
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}
