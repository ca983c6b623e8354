// Package controllers runs the cluster's controllers on the leader server,
// as kube-controller-manager does: each a level-triggered reconcile loop fed
// by shared informers through a rate-limited workqueue, talking to the API
// only through client-go.
package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/tools/record"

	"github.com/drover/drover/cluster/controllers/daemonset"
	"github.com/drover/drover/cluster/controllers/deployment"
	"github.com/drover/drover/cluster/controllers/gc"
	"github.com/drover/drover/cluster/controllers/job"
	"github.com/drover/drover/cluster/controllers/namespace"
	"github.com/drover/drover/cluster/controllers/nodeipam"
	"github.com/drover/drover/cluster/controllers/nodelifecycle"
	"github.com/drover/drover/cluster/controllers/replicaset"
	"github.com/drover/drover/cluster/kube"
)

// Options tunes the controllers; zero values take the defaults, which
// replace a dead node's Deployment pods elsewhere within about 15s of its
// last heartbeat (grace period + eviction delay + one monitor period).
type Options struct {
	// NodeMonitorGracePeriod without a heartbeat before a node is marked
	// Ready=Unknown and tainted unreachable (10s).
	NodeMonitorGracePeriod time.Duration
	// PodEvictionDelay after that taint before pods not tolerating it are
	// evicted (5s); a pod's own tolerationSeconds overrides it.
	PodEvictionDelay time.Duration
	// NodeMonitorPeriod between node health checks (1s).
	NodeMonitorPeriod time.Duration
	// ClusterCIDR the node pod subnets come from (10.244.0.0/16).
	ClusterCIDR string
	// NodeCIDRMaskSize of each node's pod subnet (24).
	NodeCIDRMaskSize int
	// JobBackoffBase before recreating a failed Job pod, doubling per
	// failure up to 6 minutes (10s).
	JobBackoffBase time.Duration
	// Workers per controller (2).
	Workers int
}

// Run starts every controller on the factory's informers, starts the
// factory, and returns when ctx ends and the controllers have stopped.
// Call it before starting the factory yourself, or let it start it.
func Run(ctx context.Context, client kube.Interface, factory *kube.InformerFactory, opts Options) error {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	events := kube.NewBroadcaster(client)
	defer events.Shutdown()
	rec := func(component string) record.EventRecorder { return kube.Recorder(events, component) }

	collector, err := gc.New(client, factory, rec("garbage-collector-controller"))
	if err != nil {
		return fmt.Errorf("start controllers: %w", err)
	}
	ipam, err := nodeipam.New(client, factory, rec("node-ipam-controller"), nodeipam.Config{ClusterCIDR: opts.ClusterCIDR, MaskSize: opts.NodeCIDRMaskSize})
	if err != nil {
		return fmt.Errorf("start controllers: %w", err)
	}
	rs := replicaset.New(client, factory, rec("replicaset-controller"))
	dep := deployment.New(client, factory, rec("deployment-controller"))
	ds := daemonset.New(client, factory, rec("daemonset-controller"))
	jobs := job.New(client, factory, rec("job-controller"), job.Config{BackoffBase: opts.JobBackoffBase})
	nodes := nodelifecycle.New(client, factory, rec("node-controller"), nodelifecycle.Config{
		GracePeriod: opts.NodeMonitorGracePeriod, EvictionDelay: opts.PodEvictionDelay, Period: opts.NodeMonitorPeriod})
	ns := namespace.New(client, factory)

	// Informers requested above start now; ones the caller started already
	// keep running.
	factory.Start(ctx.Done())

	w := opts.Workers
	runs := []func(){
		func() { rs.Run(ctx, w) },
		func() { dep.Run(ctx, w) },
		func() { ds.Run(ctx, w) },
		func() { jobs.Run(ctx, w) },
		func() { collector.Run(ctx, w) },
		func() { nodes.Run(ctx) },
		func() { ns.Run(ctx, 1) },
		func() { ipam.Run(ctx, 1) },
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); r() }()
	}
	wg.Wait()
	return nil
}
