package spec

import (
	"fmt"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

// cpuPeriod is the CFS period used for --cpus, in microseconds (Docker's choice too).
const cpuPeriod = 100000

// minMemory is the smallest memory limit accepted: below it the container's own runtime
// processes would be OOM-killed before the user's program starts.
const minMemory = 6 << 20

// linuxResources turns Resources into the spec's cgroup limits plus the device rules.
func linuxResources(r Resources, privileged bool, h *host) (*specs.LinuxResources, error) {
	lr := &specs.LinuxResources{Devices: deviceRules(privileged)}

	if r.Memory < 0 {
		return nil, fmt.Errorf("memory limit %d: must not be negative: %w", r.Memory, errdefs.ErrInvalidArgument)
	}
	if r.Memory > 0 && r.Memory < minMemory {
		return nil, fmt.Errorf("memory limit %d bytes: the minimum is 6MB: %w", r.Memory, errdefs.ErrInvalidArgument)
	}
	if r.MemorySwap < -1 {
		return nil, fmt.Errorf("memory-swap %d: want a size, or -1 for unlimited swap: %w", r.MemorySwap, errdefs.ErrInvalidArgument)
	}
	if r.MemorySwap != 0 && r.Memory == 0 {
		return nil, fmt.Errorf("memory-swap needs a memory limit too (set --memory): %w", errdefs.ErrInvalidArgument)
	}
	if r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return nil, fmt.Errorf("memory-swap %d must be at least the memory limit %d (it counts memory plus swap): %w", r.MemorySwap, r.Memory, errdefs.ErrInvalidArgument)
	}
	if r.Memory > 0 {
		mem := &specs.LinuxMemory{Limit: ptr(r.Memory)}
		// Without swap accounting runc cannot write a swap limit, so, like Docker, drover
		// leaves swap alone there rather than fail the container.
		if h.swapAccounting {
			swap := r.MemorySwap
			if swap == 0 && r.Memory <= math.MaxInt64/2 {
				swap = 2 * r.Memory
			}
			if swap != 0 {
				mem.Swap = ptr(swap)
			}
		}
		lr.Memory = mem
	}

	if r.CPUs != 0 || r.CPUShares != 0 || r.CpusetCpus != "" || r.CpusetMems != "" {
		lr.CPU = &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
	}
	if r.CPUs != 0 {
		if err := checkCPUs(r.CPUs, h.numCPU); err != nil {
			return nil, err
		}
		lr.CPU.Quota = ptr(int64(math.Round(r.CPUs * cpuPeriod)))
		lr.CPU.Period = ptr(uint64(cpuPeriod))
	}
	if r.CPUShares != 0 {
		if r.CPUShares < 2 || r.CPUShares > 262144 {
			return nil, fmt.Errorf("cpu-shares %d: want 2 to 262144 (1024 is the default weight): %w", r.CPUShares, errdefs.ErrInvalidArgument)
		}
		lr.CPU.Shares = ptr(r.CPUShares)
	}

	switch {
	case r.PidsLimit < -1:
		return nil, fmt.Errorf("pids-limit %d: want a positive number, or -1 for unlimited: %w", r.PidsLimit, errdefs.ErrInvalidArgument)
	case r.PidsLimit != 0:
		lr.Pids = &specs.LinuxPids{Limit: ptr(r.PidsLimit)}
	}
	return lr, nil
}

// oomScoreAdj is the spec's oom_score_adj: unset for 0, so the process inherits it.
func oomScoreAdj(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

// checkCPUs bounds --cpus by the CPUs this machine has and the kernel's 1 ms minimum quota.
func checkCPUs(cpus float64, numCPU int) error {
	if math.IsNaN(cpus) || cpus < 0.01 || cpus > float64(numCPU) {
		return fmt.Errorf("cpus %v: the range is 0.01 to %d.00, as this machine has %d CPUs: %w", cpus, numCPU, numCPU, errdefs.ErrInvalidArgument)
	}
	return nil
}

// deviceRules is the device cgroup: deny everything, then allow the nodes every container
// has. runc creates the nodes and appends the same allowances itself, but listing them
// keeps the spec complete for other runtimes. A privileged container may use any device,
// though drover does not copy the host's device nodes into its /dev.
func deviceRules(privileged bool) []specs.LinuxDeviceCgroup {
	if privileged {
		return []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		// mknod of any node; using one still needs its own rule below.
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
	}
	for _, d := range []struct{ major, minor int64 }{
		{1, 3}, // null
		{1, 5}, // zero
		{1, 7}, // full
		{1, 8}, // random
		{1, 9}, // urandom
		{5, 0}, // tty
		{5, 1}, // console
		{5, 2}, // ptmx
	} {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(d.major), Minor: ptr(d.minor), Access: "rwm"})
	}
	// /dev/pts/*: the terminals of the container's own devpts instance.
	rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(136)), Access: "rwm"})
	return rules
}

func ptr[T any](v T) *T { return &v }
