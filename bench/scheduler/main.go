// Command scheduler measures cluster/scheduler's placement rate: it places
// simulated pods one after the other on simulated nodes, with no API server.
//
//	GOMAXPROCS=2 go run ./bench/scheduler -nodes 5000 -pods 50000
//
// Add -cpuprofile FILE to profile (go tool pprof FILE).
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/drover/drover/cluster/scheduler"
)

func main() {
	nodes := flag.Int("nodes", 5000, "simulated nodes")
	pods := flag.Int("pods", 50000, "pods to place")
	strategy := flag.String("strategy", string(scheduler.LeastAllocated), "LeastAllocated or MostAllocated")
	profile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if err := run(*nodes, *pods, scheduler.ScoringStrategy(*strategy), *profile); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler bench:", err)
		os.Exit(1)
	}
}

func run(nodeCount, podCount int, strategy scheduler.ScoringStrategy, profile string) error {
	rnd := rand.New(rand.NewSource(1))
	cache := scheduler.NewCache()
	for _, n := range genNodes(rnd, nodeCount) {
		cache.AddNode(n)
	}
	podList := genPods(rnd, podCount)
	s := scheduler.New(cache, scheduler.Options{Strategy: strategy, Seed: 1})
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	start := time.Now()
	placed, unschedulable, err := place(s, podList)
	if err != nil {
		return err
	}
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	fmt.Printf("nodes=%d pods=%d placed=%d unschedulable=%d GOMAXPROCS=%d strategy=%s\n",
		nodeCount, podCount, placed, unschedulable, runtime.GOMAXPROCS(0), strategy)
	fmt.Printf("%.0f placements/s (%.1f µs/pod, %s total)\n",
		float64(len(podList))/d.Seconds(), float64(d.Microseconds())/float64(len(podList)), d.Round(time.Millisecond))
	// On a shared machine the wall figure depends on the load; the CPU time
	// says what the work costs.
	fmt.Printf("cpu %s: %.0f placements per cpu-second\n", cpu.Round(time.Millisecond), float64(len(podList))/cpu.Seconds())
	return nil
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
