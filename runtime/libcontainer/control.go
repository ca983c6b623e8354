package libcontainer

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/apparmor"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runc/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/opencontainers/selinux/go-selinux"

	"github.com/drover/drover/internal/errdefs"
)

// signalAll sends sig to every process in the container's cgroup. A frozen container is
// thawed for SIGKILL, which a frozen process would not act on.
func signalAll(c *libcontainer.Container, sig syscall.Signal) error {
	pids, err := c.Processes()
	if err != nil {
		return fmt.Errorf("list processes of %s: %w", c.ID(), err)
	}
	if sig == syscall.SIGKILL {
		if st, _ := c.Status(); st == libcontainer.Paused {
			_ = c.Resume()
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}

// List returns the ids of the containers under the runtime's root.
func (r *Runtime) List(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(r.Root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if _, err := os.Stat(r.Root + "/" + e.Name() + "/state.json"); e.IsDir() && err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Update changes a container's cgroup limits. Only the fields res sets change.
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	cfg := c.Config()
	if cfg.Cgroups == nil || cfg.Cgroups.Resources == nil {
		return fmt.Errorf("container %s has no cgroup to update: %w", id, errdefs.ErrConflict)
	}
	applyResources(cfg.Cgroups.Resources, res)
	if err := c.Set(cfg); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	return nil
}

func applyResources(dst *cgroups.Resources, res *specs.LinuxResources) {
	if m := res.Memory; m != nil {
		setInt(&dst.Memory, m.Limit)
		setInt(&dst.MemoryReservation, m.Reservation)
		setInt(&dst.MemorySwap, m.Swap)
	}
	if c := res.CPU; c != nil {
		setUint(&dst.CpuShares, c.Shares)
		setInt(&dst.CpuQuota, c.Quota)
		setUint(&dst.CpuPeriod, c.Period)
		setInt(&dst.CpuRtRuntime, c.RealtimeRuntime)
		setUint(&dst.CpuRtPeriod, c.RealtimePeriod)
		if c.Cpus != "" {
			dst.CpusetCpus = c.Cpus
		}
		if c.Mems != "" {
			dst.CpusetMems = c.Mems
		}
		if c.Burst != nil {
			dst.CpuBurst = c.Burst
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		dst.PidsLimit = p.Limit
	}
	if b := res.BlockIO; b != nil && b.Weight != nil {
		dst.BlkioWeight = *b.Weight
	}
}

func setInt(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

func setUint(dst *uint64, v *uint64) {
	if v != nil {
		*dst = *v
	}
}

// Stats reads the container's cgroup statistics in the shape runc's events command prints.
func (r *Runtime) Stats(ctx context.Context, id string) (*types.Stats, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	st, err := c.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", id, err)
	}
	out := &types.Stats{NetworkInterfaces: st.Interfaces}
	cg := st.CgroupStats
	if cg == nil {
		return out, nil
	}
	u := cg.CpuStats.CpuUsage
	out.CPU = types.Cpu{
		Usage: types.CpuUsage{Total: u.TotalUsage, Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode,
			PercpuUser: u.PercpuUsageInUsermode, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode},
		Throttling: types.Throttling{Periods: cg.CpuStats.ThrottlingData.Periods,
			ThrottledPeriods: cg.CpuStats.ThrottlingData.ThrottledPeriods, ThrottledTime: cg.CpuStats.ThrottlingData.ThrottledTime},
		PSI: cg.CpuStats.PSI,
	}
	m := cg.MemoryStats
	out.Memory = types.Memory{Cache: m.Cache, Usage: memoryEntry(m.Usage), Swap: memoryEntry(m.SwapUsage),
		Kernel: memoryEntry(m.KernelUsage), KernelTCP: memoryEntry(m.KernelTCPUsage), Raw: m.Stats, PSI: m.PSI}
	out.Pids = types.Pids{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}
	out.Blkio = types.Blkio{
		IoServiceBytesRecursive: blkioEntries(cg.BlkioStats.IoServiceBytesRecursive),
		IoServicedRecursive:     blkioEntries(cg.BlkioStats.IoServicedRecursive),
		PSI:                     cg.BlkioStats.PSI,
	}
	out.Hugetlb = map[string]types.Hugetlb{}
	for size, h := range cg.HugetlbStats {
		out.Hugetlb[size] = types.Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return out, nil
}

func memoryEntry(d cgroups.MemoryData) types.MemoryEntry {
	return types.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkioEntries(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
	out := make([]types.BlkioEntry, 0, len(in))
	for _, e := range in {
		out = append(out, types.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}

// NotifyOOM returns a channel that receives when the container hits its memory limit.
func (r *Runtime) NotifyOOM(ctx context.Context, id string) (<-chan struct{}, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return c.NotifyOOM()
}

// ExampleSpec is the default spec `runtime spec` writes: a busybox-style sh in a rootfs
// directory, with the namespaces, mounts and masked paths every container should have.
func ExampleSpec(rootless bool) *specs.Spec {
	s := specconv.Example()
	if rootless {
		specconv.ToRootless(s)
	}
	return s
}

// Features describes what this runtime implements, in the runtime spec's features format.
func Features() *features.Features {
	yes, no := true, false
	var caps []string
	for _, c := range capability.ListKnown() {
		caps = append(caps, "CAP_"+strings.ToUpper(c.String()))
	}
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  specconv.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces:   specconv.KnownNamespaces(),
			Capabilities: caps,
			Cgroup: &features.Cgroup{V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &yes,
				Rdma: &yes},
			Apparmor:        &features.Apparmor{Enabled: boolPtr(apparmor.IsEnabled())},
			Selinux:         &features.Selinux{Enabled: boolPtr(selinux.GetEnabled())},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
			MemoryPolicy: &features.MemoryPolicy{Modes: specconv.KnownMemoryPolicyModes(),
				Flags: specconv.KnownMemoryPolicyFlags()},
		},
		Annotations: map[string]string{"io.github.drover.runtime": "embedded libcontainer"},
	}
	if seccomp.Enabled {
		f.Linux.Seccomp = &features.Seccomp{Enabled: &yes, Actions: seccomp.KnownActions(),
			Operators: seccomp.KnownOperators(), Archs: seccomp.KnownArchs(),
			KnownFlags: seccomp.KnownFlags(), SupportedFlags: seccomp.SupportedFlags()}
	} else {
		f.Linux.Seccomp = &features.Seccomp{Enabled: &no}
	}
	slices.Sort(f.Linux.Capabilities)
	return f
}

func boolPtr(b bool) *bool { return &b }
