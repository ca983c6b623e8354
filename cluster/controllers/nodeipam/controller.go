// Package nodeipam gives every node a pod subnet (spec.podCIDR) out of the
// cluster CIDR, never the same one twice, and takes it back when the node
// goes. The node agent waits for it before it starts pods.
package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/kube"
)

// Config names the range; zero values take the defaults.
type Config struct {
	ClusterCIDR string // 10.244.0.0/16
	MaskSize    int    // 24
}

// Controller is the node IPAM controller.
type Controller struct {
	client   kube.Interface
	nodes    corelisters.NodeLister
	synced   cache.InformerSynced
	loop     *ctrlutil.Loop
	recorder record.EventRecorder

	mu sync.Mutex
	// set is built from the nodes seen at start (Run), before any
	// allocation, so a restart never hands out a subnet in use.
	set *cidrSet
	// byNode is each node's subnet, including ones written but not yet
	// seen in the cache, so a second sync re-sends the same one.
	byNode map[string]string
}

// New checks the range and wires the controller to the Node informer.
func New(client kube.Interface, factory *kube.InformerFactory, recorder record.EventRecorder, cfg Config) (*Controller, error) {
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.244.0.0/16"
	}
	if cfg.MaskSize == 0 {
		cfg.MaskSize = 24
	}
	set, err := newCIDRSet(cfg.ClusterCIDR, cfg.MaskSize)
	if err != nil {
		return nil, err
	}
	inf := factory.Nodes()
	c := &Controller{client: client, nodes: inf.Lister(), synced: inf.Informer().HasSynced, recorder: recorder, set: set, byNode: map[string]string{}}
	c.loop = ctrlutil.NewLoop("node-ipam", c.sync)
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, n interface{}) { c.loop.Enqueue(n) },
		DeleteFunc: c.nodeDeleted,
	})
	return c, nil
}

// Run records the subnets nodes already hold, then allocates until ctx
// ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !cache.WaitForNamedCacheSync("node-ipam", ctx.Done(), c.synced) {
		return
	}
	nodes, _ := c.nodes.List(labels.Everything())
	c.mu.Lock()
	for _, n := range nodes {
		if n.Spec.PodCIDR != "" && c.set.occupy(n.Spec.PodCIDR) {
			c.byNode[n.Name] = n.Spec.PodCIDR
		}
	}
	c.mu.Unlock()
	c.loop.Run(ctx, workers)
}

func (c *Controller) nodeDeleted(obj interface{}) {
	n, ok := kube.Deleted[*corev1.Node](obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cidr, ok := c.byNode[n.Name]; ok {
		c.set.release(cidr)
		delete(c.byNode, n.Name)
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if n.Spec.PodCIDR != "" {
		// Set by someone (or an earlier write of ours): record it.
		if prev, ok := c.byNode[name]; ok && prev != n.Spec.PodCIDR {
			c.set.release(prev)
		}
		if c.set.occupy(n.Spec.PodCIDR) {
			c.byNode[name] = n.Spec.PodCIDR
		}
		c.mu.Unlock()
		return nil
	}
	cidr, ok := c.byNode[name]
	if !ok {
		if cidr, err = c.set.allocate(); err != nil {
			c.mu.Unlock()
			c.recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: name, UID: n.UID}, corev1.EventTypeWarning, "CIDRNotAvailable", "Node %s: %v", name, err)
			return err
		}
		c.byNode[name] = cidr
	}
	c.mu.Unlock()

	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		c.set.release(cidr)
		delete(c.byNode, name)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("assign pod CIDR %s to node %s: %w", cidr, name, err)
	}
	c.recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: name, UID: n.UID}, corev1.EventTypeNormal, "CIDRAssignmentSucceeded", "Node %s: pod CIDR %s", name, cidr)
	return nil
}
