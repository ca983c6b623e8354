package cri

import (
	"context"
	"errors"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// ContainerStats reports one container's CPU, memory and writable layer use. A container
// that is not running reports zeros.
func (s *Server) ContainerStats(ctx context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if err != nil {
		return nil, toStatus(err, "container stats %s", req.GetContainerId())
	}
	st, _, err := s.containerStats(ctx, c)
	if err != nil {
		return nil, toStatus(err, "container stats %s", c.ID)
	}
	return &runtimeapi.ContainerStatsResponse{Stats: st}, nil
}

// ListContainerStats reports the stats of the CRI's containers, filtered by id, sandbox
// and labels as ListContainers filters.
func (s *Server) ListContainerStats(ctx context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	list, err := s.criContainers(ctx)
	if err != nil {
		return nil, toStatus(err, "list container stats")
	}
	f := req.GetFilter()
	out := &runtimeapi.ListContainerStatsResponse{}
	for _, c := range list {
		if !matchContainer(c, f.GetId(), f.GetPodSandboxId(), f.GetLabelSelector()) {
			continue
		}
		st, _, err := s.containerStats(ctx, c)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, toStatus(err, "container stats %s", c.ID)
		}
		out.Stats = append(out.Stats, st)
	}
	if f == nil {
		s.cpu.keepOnly(idSet(list))
	}
	return out, nil
}

// criContainers lists the containers made through the CRI.
func (s *Server) criContainers(ctx context.Context) ([]api.Container, error) {
	all, err := s.engine.ListContainers(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.Container
	for _, c := range all {
		if c.Config.Labels[labelSandbox] != "" {
			out = append(out, c)
		}
	}
	return out, nil
}

// matchContainer applies the CRI's container filters: id and sandbox by prefix, labels
// exactly.
func matchContainer(c api.Container, id, sandbox string, selector map[string]string) bool {
	return strings.HasPrefix(c.ID, id) && strings.HasPrefix(c.Config.Labels[labelSandbox], sandbox) &&
		matchLabels(kubeLabels(api.Pod{Labels: c.Config.Labels}), selector)
}

func idSet(list []api.Container) map[string]bool {
	ids := map[string]bool{}
	for _, c := range list {
		ids[c.ID] = true
	}
	return ids
}

// containerStats samples c and returns its CRI stats with the sample.
func (s *Server) containerStats(ctx context.Context, c api.Container) (*runtimeapi.ContainerStats, Sample, error) {
	smp, err := s.engine.SampleContainer(ctx, c.ID)
	if err != nil {
		return nil, Sample{}, err
	}
	ts := smp.Time.UnixNano()
	st := &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{Id: c.ID, Metadata: containerMetadata(c),
			Labels: kubeLabels(api.Pod{Labels: c.Config.Labels}), Annotations: annotations(api.Pod{Labels: c.Config.Labels})},
		Cpu:    &runtimeapi.CpuUsage{Timestamp: ts, UsageCoreNanoSeconds: u64(smp.CPU.UsageNs), UsageNanoCores: u64(s.cpu.rate(c.ID, smp.Time, smp.CPU.UsageNs))},
		Memory: memoryUsage(ts, smp.Memory, smp.Limits.Memory),
		Swap:   &runtimeapi.SwapUsage{Timestamp: ts, SwapUsageBytes: u64(smp.Memory.Swap)},
		WritableLayer: &runtimeapi.FilesystemUsage{Timestamp: ts, FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: smp.Layer.Mountpoint},
			UsedBytes: u64(smp.Layer.UsedBytes), InodesUsed: u64(smp.Layer.Inodes)},
	}
	return st, smp, nil
}

// memoryUsage is the CRI's memory report; available_bytes only under a limit.
func memoryUsage(ts int64, m MemorySample, limit uint64) *runtimeapi.MemoryUsage {
	mu := &runtimeapi.MemoryUsage{Timestamp: ts, WorkingSetBytes: u64(m.WorkingSet), UsageBytes: u64(m.Usage), RssBytes: u64(m.RSS),
		PageFaults: u64(m.PageFaults), MajorPageFaults: u64(m.MajorPageFaults)}
	if limit > 0 {
		avail := uint64(0)
		if limit > m.WorkingSet {
			avail = limit - m.WorkingSet
		}
		mu.AvailableBytes = u64(avail)
	}
	return mu
}

// PodSandboxStats reports a sandbox's use: its containers' and infra process's summed
// (drover gives a pod no cgroup of its own), its network traffic, its process count and
// each container's stats.
func (s *Server) PodSandboxStats(ctx context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	pod, err := s.criPod(ctx, req.GetPodSandboxId())
	if err != nil {
		return nil, toStatus(err, "pod sandbox stats %s", req.GetPodSandboxId())
	}
	list, err := s.criContainers(ctx)
	if err != nil {
		return nil, toStatus(err, "pod sandbox stats %s", pod.ID)
	}
	st, err := s.podStats(ctx, pod, list)
	if err != nil {
		return nil, toStatus(err, "pod sandbox stats %s", pod.ID)
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: st}, nil
}

// ListPodSandboxStats reports the stats of the CRI's sandboxes, filtered by id prefix
// and labels.
func (s *Server) ListPodSandboxStats(ctx context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	list, err := s.criContainers(ctx)
	if err != nil {
		return nil, toStatus(err, "list pod sandbox stats")
	}
	f := req.GetFilter()
	out := &runtimeapi.ListPodSandboxStatsResponse{}
	seen := map[string]bool{}
	for _, pod := range s.engine.ListPods(ctx) {
		if pod.Labels[labelName] == "" {
			continue
		}
		seen[pod.ID] = true
		if !strings.HasPrefix(pod.ID, f.GetId()) || !matchLabels(kubeLabels(pod), f.GetLabelSelector()) {
			continue
		}
		st, err := s.podStats(ctx, pod, list)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, toStatus(err, "pod sandbox stats %s", pod.ID)
		}
		out.Stats = append(out.Stats, st)
	}
	if f == nil {
		s.podCPU.keepOnly(seen)
	}
	return out, nil
}

// podStats gathers a sandbox's stats from its infra container, its containers (of all,
// those in it) and its interfaces.
func (s *Server) podStats(ctx context.Context, pod api.Pod, all []api.Container) (*runtimeapi.PodSandboxStats, error) {
	infra, err := s.engine.SampleContainer(ctx, pod.InfraID)
	if err != nil {
		return nil, err
	}
	total := infra
	linux := &runtimeapi.LinuxPodSandboxStats{}
	for _, c := range all {
		if c.Config.Labels[labelSandbox] != pod.ID {
			continue
		}
		st, smp, err := s.containerStats(ctx, c)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		linux.Containers = append(linux.Containers, st)
		addSample(&total, smp)
	}
	ts := total.Time.UnixNano()
	linux.Cpu = &runtimeapi.CpuUsage{Timestamp: ts, UsageCoreNanoSeconds: u64(total.CPU.UsageNs),
		UsageNanoCores: u64(s.podCPU.rate(pod.ID, total.Time, total.CPU.UsageNs))}
	linux.Memory = memoryUsage(ts, total.Memory, 0)
	linux.Process = &runtimeapi.ProcessUsage{Timestamp: ts, ProcessCount: u64(total.Processes)}
	ifaces, err := s.engine.PodInterfaces(ctx, pod.ID)
	if err != nil {
		return nil, err
	}
	if len(ifaces) > 0 {
		linux.Network = &runtimeapi.NetworkUsage{Timestamp: ts, DefaultInterface: interfaceStats(ifaces[0])}
		for _, i := range ifaces[1:] { // the others, as the CRI asks
			linux.Network.Interfaces = append(linux.Network.Interfaces, interfaceStats(i))
		}
	}
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: pod.ID, Metadata: sandboxMetadata(pod), Labels: kubeLabels(pod), Annotations: annotations(pod)},
		Linux:      linux,
	}, nil
}

// addSample adds what a container uses to its sandbox's total.
func addSample(t *Sample, s Sample) {
	t.CPU.UsageNs += s.CPU.UsageNs
	m, a := &t.Memory, s.Memory
	m.Usage, m.WorkingSet, m.RSS, m.Swap = m.Usage+a.Usage, m.WorkingSet+a.WorkingSet, m.RSS+a.RSS, m.Swap+a.Swap
	m.PageFaults, m.MajorPageFaults = m.PageFaults+a.PageFaults, m.MajorPageFaults+a.MajorPageFaults
	t.Processes += s.Processes
}

func interfaceStats(i Interface) *runtimeapi.NetworkInterfaceUsage {
	return &runtimeapi.NetworkInterfaceUsage{Name: i.Name, RxBytes: u64(i.RxBytes), RxErrors: u64(i.RxErrors), TxBytes: u64(i.TxBytes), TxErrors: u64(i.TxErrors)}
}

func u64(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }
