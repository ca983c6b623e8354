package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/spec"
)

// resourceUpdater is a runtime that can change a running container's cgroup limits; the
// embedded runtime is one.
type resourceUpdater interface {
	Update(ctx context.Context, id string, res *specs.LinuxResources) error
}

// UpdateContainerResources changes a container's limits: in its record, so every later
// start (and a daemon restart) keeps them, and, when it runs, in its cgroups at once.
// Zero fields of u keep a limit. The oom_score_adj applies from the next start: the
// kernel lets a process lower its own score only with CAP_SYS_RESOURCE.
func (d *Daemon) UpdateContainerResources(ctx context.Context, ref string, u api.ResourceUpdate) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock() // no start or stop while the limits change
	defer c.busy.Unlock()
	c.mu.Lock()
	id, name, rtPath := c.rec.ID, c.rec.Name, c.rec.RuntimePath
	running := c.rec.State.Status == api.StatusRunning || c.rec.State.Status == api.StatusPaused
	old := c.rec.Config.Host
	next := old
	c.mu.Unlock()
	if err := applyResourceUpdate(&next, u); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	res, err := spec.UpdateResources(specResources(next))
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	var up resourceUpdater
	if running {
		rt, err := d.runtimeFor(rtPath)
		if err != nil {
			return err
		}
		var ok bool
		if up, ok = rt.(resourceUpdater); !ok {
			return fmt.Errorf("update %s: its runtime %s cannot change the limits of a running container: stop it first: %w", name, rtPath, errdefs.ErrConflict)
		}
	}
	if err := d.setResources(c, next); err != nil {
		return fmt.Errorf("update %s: save: %w", name, err)
	}
	if up != nil {
		if err := up.Update(ctx, id, res); err != nil {
			_ = d.setResources(c, old)
			return fmt.Errorf("update %s: %w", name, err)
		}
	}
	d.emitContainer(c, "update", nil)
	return nil
}

// setResources writes the limits of h into c's record, and only those: other settings
// may change meanwhile (a restart policy).
func (d *Daemon) setResources(c *container, h api.HostConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.rec.Config.Host
	r.Memory, r.MemorySwap, r.NanoCPUs, r.CPUShares = h.Memory, h.MemorySwap, h.NanoCPUs, h.CPUShares
	r.CpusetCpus, r.CpusetMems, r.PidsLimit, r.OomScoreAdj = h.CpusetCpus, h.CpusetMems, h.PidsLimit, h.OomScoreAdj
	return d.save(c)
}

// applyResourceUpdate sets the limits u gives in h. A new memory limit without a swap
// limit puts swap back to its default (twice the memory), as a fresh container has it.
func applyResourceUpdate(h *api.HostConfig, u api.ResourceUpdate) error {
	if u.Memory != 0 {
		h.Memory, h.MemorySwap = u.Memory, 0
	}
	if u.MemorySwap != 0 {
		h.MemorySwap = u.MemorySwap
	}
	if u.CPUShares != 0 {
		h.CPUShares = u.CPUShares
	}
	switch {
	case u.CPUQuota < 0 || u.CPUPeriod < 0:
		return fmt.Errorf("cpu quota %d and period %d: want positive microseconds: %w", u.CPUQuota, u.CPUPeriod, errdefs.ErrInvalidArgument)
	case u.CPUQuota > 0:
		period := u.CPUPeriod
		if period == 0 {
			period = 100000
		}
		if period < 1000 || period > 1000000 {
			return fmt.Errorf("cpu period %d: want 1000 to 1000000 microseconds: %w", period, errdefs.ErrInvalidArgument)
		}
		// Kept as a CPU count, which the next start turns back into a quota per 100 ms.
		h.NanoCPUs = u.CPUQuota * 1e9 / period
	}
	for what, set := range map[string]string{"cpuset_cpus": u.CpusetCpus, "cpuset_mems": u.CpusetMems} {
		if set != "" && !validCPUSet(set) {
			return fmt.Errorf("%s %q: want a list of numbers and ranges such as 0-2,4: %w", what, set, errdefs.ErrInvalidArgument)
		}
	}
	if u.CpusetCpus != "" {
		h.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		h.CpusetMems = u.CpusetMems
	}
	if u.PidsLimit != 0 {
		h.PidsLimit = u.PidsLimit
	}
	if u.OomScoreAdj != nil {
		if *u.OomScoreAdj < -1000 || *u.OomScoreAdj > 1000 {
			return fmt.Errorf("oom_score_adj %d: want -1000 to 1000: %w", *u.OomScoreAdj, errdefs.ErrInvalidArgument)
		}
		h.OomScoreAdj = *u.OomScoreAdj
	}
	return nil
}

// specResources are the cgroup limits of h in the spec generator's terms.
func specResources(h api.HostConfig) spec.Resources {
	return spec.Resources{Memory: h.Memory, MemorySwap: h.MemorySwap, CPUs: float64(h.NanoCPUs) / 1e9,
		CPUShares: uint64(h.CPUShares), PidsLimit: h.PidsLimit, CpusetCpus: h.CpusetCpus, CpusetMems: h.CpusetMems}
}

// validCPUSet checks the kernel's list format: "0-3,5,7-8".
func validCPUSet(s string) bool {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || (isRange && (err2 != nil || b < a)) {
			return false
		}
	}
	return true
}
