package main

import (
	"math/rand"
	"testing"

	"github.com/drover/drover/cluster/scheduler"
)

// BenchmarkPlace places b.N pods of the mixed workload on 5,000 nodes; a
// fresh cluster is built whenever 50,000 pods have been placed, outside the
// timer. Run with GOMAXPROCS=2 and -benchtime 20000x or so.
func BenchmarkPlace(b *testing.B) {
	const nodes, batch = 5000, 50000
	rnd := rand.New(rand.NewSource(1))
	nodeList := genNodes(rnd, nodes)
	podList := genPods(rnd, batch)
	var s *scheduler.Scheduler
	fresh := func() {
		c := scheduler.NewCache()
		for _, n := range nodeList {
			c.AddNode(n)
		}
		s = scheduler.New(c, scheduler.Options{Seed: 1})
	}
	fresh()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(b.N-done, batch)
		if _, _, err := place(s, podList[:n]); err != nil {
			b.Fatal(err)
		}
		done += n
		if done < b.N {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
}

// TestPlaceAll checks the simulated workload fits entirely and every
// placement honours the pods' hard constraints.
func TestPlaceAll(t *testing.T) {
	rnd := rand.New(rand.NewSource(2))
	c := scheduler.NewCache()
	nodeList := genNodes(rnd, 300)
	for _, n := range nodeList {
		c.AddNode(n)
	}
	pods := genPods(rnd, 3000)
	s := scheduler.New(c, scheduler.Options{Seed: 2})
	placed, unschedulable, err := place(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	if unschedulable != 0 || placed != len(pods) {
		t.Fatalf("placed %d, unschedulable %d of %d", placed, unschedulable, len(pods))
	}
	checkPlacements(t, c, nodeList)
}
