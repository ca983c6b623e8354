// Package scheduler places pods on nodes, as kube-scheduler's default
// profile does, in two layers.
//
// The algorithm (Cache, Scheduler.Schedule) is pure and needs no API: a
// Cache holds the nodes and the pods placed on them, with their aggregates
// (requests, pod counts) and the indexes the inter-pod filters need kept up
// to date as pods are added, assumed, forgotten or removed. Schedule runs
// the filters NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
// NodeResourcesFit, PodTopologySpread and InterPodAffinity in parallel over
// nodes from a rotating start until enough feasible ones are found
// (percentageOfNodesToScore), scores them (NodeResourcesFit LeastAllocated
// or MostAllocated, NodeAffinity, InterPodAffinity, TaintToleration,
// PodTopologySpread, with kube-scheduler's weights) and picks the best. When
// no node fits it returns a *FitError worded as kube-scheduler's
// FailedScheduling message, with a Preemption when evicting lower-priority
// pods would make room.
//
// The loop (Run) feeds the algorithm from client-go informers, binds
// through pods/binding, records events and the PodScheduled condition, and
// carries out preemptions.
//
// Its speed is measured on 5,000 simulated nodes and 50,000 pods by
//
//	GOMAXPROCS=2 go run ./bench/scheduler
//	GOMAXPROCS=2 go test ./bench/scheduler -run '^$' -bench Place -benchtime 20000x
package scheduler
