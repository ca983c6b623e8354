package cri

import (
	"context"
	"errors"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// The metrics are named as cAdvisor names them, so the kubelet's /metrics/cadvisor reads
// the same from drover. Every metric carries the labels of its container (for a
// sandbox's own metrics, container is empty) and, some, labels of their own. Values are
// whole units: the CRI carries integers, so the _seconds metrics are whole seconds.
var baseLabels = []string{"container", "id", "image", "name", "namespace", "pod"}

// metricDef is one metric: its description and how to read its values from a sample
// (container metrics) or from a sandbox's interfaces (network metrics).
type metricDef struct {
	name, help string
	typ        runtimeapi.MetricType
	labels     []string // after baseLabels
	container  func(Sample) []value
	pod        func([]Interface) []value
}

// value is one series of a metric: the values of the metric's own labels, and a reading.
type value struct {
	labels []string
	v      uint64
}

func one(v uint64) []value { return []value{{v: v}} }

func gauge(name, help string, f func(Sample) uint64) metricDef {
	return metricDef{name: name, help: help, typ: runtimeapi.MetricType_GAUGE, container: func(s Sample) []value { return one(f(s)) }}
}

func counter(name, help string, f func(Sample) uint64) metricDef {
	d := gauge(name, help, f)
	d.typ = runtimeapi.MetricType_COUNTER
	return d
}

// device labels a filesystem metric with the filesystem of the container's layer.
func device(d metricDef) metricDef {
	f := d.container
	d.labels = []string{"device"}
	d.container = func(s Sample) []value {
		vs := f(s)
		for i := range vs {
			vs[i].labels = []string{s.Layer.Mountpoint}
		}
		return vs
	}
	return d
}

// network is a counter of a sandbox's interfaces.
func network(name, help string, f func(Interface) uint64) metricDef {
	return metricDef{name: name, help: help, typ: runtimeapi.MetricType_COUNTER, labels: []string{"interface"},
		pod: func(ifs []Interface) []value {
			var vs []value
			for _, i := range ifs {
				vs = append(vs, value{labels: []string{i.Name}, v: f(i)})
			}
			return vs
		}}
}

func seconds(ns uint64) uint64 { return ns / 1e9 }

var metricDefs = []metricDef{
	counter("container_cpu_usage_seconds_total", "Cumulative CPU time consumed, in whole seconds", func(s Sample) uint64 { return seconds(s.CPU.UsageNs) }),
	counter("container_cpu_user_seconds_total", "Cumulative user CPU time consumed, in whole seconds", func(s Sample) uint64 { return seconds(s.CPU.UserNs) }),
	counter("container_cpu_system_seconds_total", "Cumulative system CPU time consumed, in whole seconds", func(s Sample) uint64 { return seconds(s.CPU.SystemNs) }),
	counter("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals", func(s Sample) uint64 { return s.CPU.Periods }),
	counter("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals", func(s Sample) uint64 { return s.CPU.ThrottledPeriods }),
	counter("container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled, in whole seconds", func(s Sample) uint64 { return seconds(s.CPU.ThrottledNs) }),
	gauge("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", func(s Sample) uint64 { return s.Memory.Usage }),
	gauge("container_memory_working_set_bytes", "Current working set in bytes: usage less inactive file cache", func(s Sample) uint64 { return s.Memory.WorkingSet }),
	gauge("container_memory_rss", "Size of RSS (anonymous memory) in bytes", func(s Sample) uint64 { return s.Memory.RSS }),
	gauge("container_memory_cache", "Number of bytes of page cache memory", func(s Sample) uint64 { return s.Memory.Cache }),
	gauge("container_memory_mapped_file", "Size of memory mapped files in bytes", func(s Sample) uint64 { return s.Memory.MappedFile }),
	gauge("container_memory_swap", "Container swap usage in bytes", func(s Sample) uint64 { return s.Memory.Swap }),
	gauge("container_memory_kernel_usage", "Size of kernel memory allocated in bytes", func(s Sample) uint64 { return s.Memory.Kernel }),
	gauge("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", func(s Sample) uint64 { return s.Memory.MaxUsage }),
	counter("container_memory_failcnt", "Number of memory usage hits limits", func(s Sample) uint64 { return s.Memory.Failcnt }),
	{name: "container_memory_failures_total", help: "Cumulative count of memory allocation failures (page faults)", typ: runtimeapi.MetricType_COUNTER,
		labels: []string{"failure_type", "scope"}, container: func(s Sample) []value {
			return []value{{[]string{"pgfault", "container"}, s.Memory.PageFaults}, {[]string{"pgmajfault", "container"}, s.Memory.MajorPageFaults}}
		}},
	counter("container_oom_events_total", "Count of out of memory events observed for the container", func(s Sample) uint64 { return s.OOMEvents }),
	gauge("container_processes", "Number of processes running inside the container", func(s Sample) uint64 { return s.Processes }),
	gauge("container_threads", "Number of threads running inside the container", func(s Sample) uint64 { return s.Threads }),
	gauge("container_threads_max", "Maximum number of threads allowed inside the container, 0 for no limit", func(s Sample) uint64 { return s.ThreadsMax }),
	gauge("container_file_descriptors", "Number of open file descriptors for the container", func(s Sample) uint64 { return s.FileDescriptors }),
	gauge("container_sockets", "Number of open sockets for the container", func(s Sample) uint64 { return s.Sockets }),
	device(gauge("container_fs_usage_bytes", "Number of bytes consumed by the container's writable layer", func(s Sample) uint64 { return s.Layer.UsedBytes })),
	device(gauge("container_fs_limit_bytes", "Number of bytes the filesystem of the container's writable layer can hold", func(s Sample) uint64 { return s.Layer.CapacityBytes })),
	device(gauge("container_fs_inodes_total", "Number of inodes of the filesystem of the container's writable layer", func(s Sample) uint64 { return s.Layer.InodesTotal })),
	device(gauge("container_fs_inodes_free", "Number of free inodes of the filesystem of the container's writable layer", func(s Sample) uint64 { return s.Layer.InodesFree })),
	counter("container_fs_reads_bytes_total", "Cumulative count of bytes read, summed over block devices", func(s Sample) uint64 { return s.IO.ReadBytes }),
	counter("container_fs_writes_bytes_total", "Cumulative count of bytes written, summed over block devices", func(s Sample) uint64 { return s.IO.WriteBytes }),
	counter("container_fs_reads_total", "Cumulative count of reads completed, summed over block devices", func(s Sample) uint64 { return s.IO.Reads }),
	counter("container_fs_writes_total", "Cumulative count of writes completed, summed over block devices", func(s Sample) uint64 { return s.IO.Writes }),
	{name: "container_blkio_device_usage_total", help: "Block I/O bytes by operation, summed over block devices", typ: runtimeapi.MetricType_COUNTER,
		labels: []string{"operation"}, container: func(s Sample) []value {
			return []value{{[]string{"Read"}, s.IO.ReadBytes}, {[]string{"Write"}, s.IO.WriteBytes}}
		}},
	gauge("container_spec_cpu_period", "CPU period of the container, in microseconds", func(s Sample) uint64 { return s.Limits.CPUPeriod }),
	{name: "container_spec_cpu_quota", help: "CPU quota of the container, in microseconds per period", typ: runtimeapi.MetricType_GAUGE,
		container: func(s Sample) []value {
			if s.Limits.CPUQuota <= 0 {
				return nil // no quota: no series, as cAdvisor does
			}
			return one(uint64(s.Limits.CPUQuota))
		}},
	gauge("container_spec_cpu_shares", "CPU share of the container", func(s Sample) uint64 { return s.Limits.CPUShares }),
	gauge("container_spec_memory_limit_bytes", "Memory limit for the container, 0 for none", func(s Sample) uint64 { return s.Limits.Memory }),
	gauge("container_spec_memory_swap_limit_bytes", "Memory plus swap limit for the container, 0 for none", func(s Sample) uint64 { return s.Limits.MemorySwap }),
	gauge("container_start_time_seconds", "Start time of the container since unix epoch in seconds, 0 if it never started", func(s Sample) uint64 {
		if s.StartedAt.IsZero() {
			return 0
		}
		return uint64(s.StartedAt.Unix())
	}),
	gauge("container_last_seen", "Last time the container was seen by drover, in seconds since unix epoch", func(s Sample) uint64 { return uint64(s.Time.Unix()) }),
	network("container_network_receive_bytes_total", "Cumulative count of bytes received", func(i Interface) uint64 { return i.RxBytes }),
	network("container_network_receive_packets_total", "Cumulative count of packets received", func(i Interface) uint64 { return i.RxPackets }),
	network("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", func(i Interface) uint64 { return i.RxErrors }),
	network("container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", func(i Interface) uint64 { return i.RxDropped }),
	network("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", func(i Interface) uint64 { return i.TxBytes }),
	network("container_network_transmit_packets_total", "Cumulative count of packets transmitted", func(i Interface) uint64 { return i.TxPackets }),
	network("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", func(i Interface) uint64 { return i.TxErrors }),
	network("container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", func(i Interface) uint64 { return i.TxDropped }),
}

// ListMetricDescriptors describes every metric ListPodSandboxMetrics reports.
func (s *Server) ListMetricDescriptors(ctx context.Context, _ *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	out := &runtimeapi.ListMetricDescriptorsResponse{}
	for _, d := range metricDefs {
		out.Descriptors = append(out.Descriptors, &runtimeapi.MetricDescriptor{Name: d.name, Help: d.help,
			LabelKeys: append(append([]string{}, baseLabels...), d.labels...)})
	}
	return out, nil
}

// ListPodSandboxMetrics reports the metrics of every CRI sandbox: its network's as the
// sandbox's own, the rest per container.
func (s *Server) ListPodSandboxMetrics(ctx context.Context, _ *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	list, err := s.criContainers(ctx)
	if err != nil {
		return nil, toStatus(err, "list pod sandbox metrics")
	}
	out := &runtimeapi.ListPodSandboxMetricsResponse{}
	for _, pod := range s.engine.ListPods(ctx) {
		if pod.Labels[labelName] == "" {
			continue
		}
		pm, err := s.podMetrics(ctx, pod, list)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, toStatus(err, "pod sandbox metrics %s", pod.ID)
		}
		out.PodMetrics = append(out.PodMetrics, pm)
	}
	return out, nil
}

func (s *Server) podMetrics(ctx context.Context, pod api.Pod, all []api.Container) (*runtimeapi.PodSandboxMetrics, error) {
	md := sandboxMetadata(pod)
	ifaces, err := s.engine.PodInterfaces(ctx, pod.ID)
	if err != nil {
		return nil, err
	}
	pm := &runtimeapi.PodSandboxMetrics{PodSandboxId: pod.ID,
		Metrics: podSeries([]string{"", pod.ID, "", pod.Name, md.GetNamespace(), md.GetName()}, nowNanos(), ifaces)}
	for _, c := range all {
		if c.Config.Labels[labelSandbox] != pod.ID {
			continue
		}
		smp, err := s.engine.SampleContainer(ctx, c.ID)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		base := []string{c.Config.Labels[labelName], c.ID, c.ImageName, c.Name, md.GetNamespace(), md.GetName()}
		pm.ContainerMetrics = append(pm.ContainerMetrics, &runtimeapi.ContainerMetrics{ContainerId: c.ID, Metrics: containerSeries(base, smp)})
	}
	return pm, nil
}

// containerSeries are the container metrics of one sample, labelled base + their own.
func containerSeries(base []string, smp Sample) []*runtimeapi.Metric {
	var out []*runtimeapi.Metric
	for _, d := range metricDefs {
		if d.container != nil {
			out = append(out, series(d, base, smp.Time.UnixNano(), d.container(smp))...)
		}
	}
	return out
}

// podSeries are a sandbox's own metrics: those of its interfaces.
func podSeries(base []string, ts int64, ifaces []Interface) []*runtimeapi.Metric {
	var out []*runtimeapi.Metric
	for _, d := range metricDefs {
		if d.pod != nil {
			out = append(out, series(d, base, ts, d.pod(ifaces))...)
		}
	}
	return out
}

func series(d metricDef, base []string, ts int64, vs []value) []*runtimeapi.Metric {
	out := make([]*runtimeapi.Metric, 0, len(vs))
	for _, v := range vs {
		out = append(out, &runtimeapi.Metric{Name: d.name, Timestamp: ts, MetricType: d.typ,
			LabelValues: append(append([]string{}, base...), v.labels...), Value: u64(v.v)})
	}
	return out
}
