package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/api"
	"github.com/drover/drover/cri"
	"github.com/drover/drover/internal/errdefs"
)

// SampleContainer reads a container's resource use for the CRI's stats and metrics: its
// cgroups while it runs (zeros otherwise) and always its writable layer.
func (d *Daemon) SampleContainer(ctx context.Context, ref string) (cri.Sample, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return cri.Sample{}, err
	}
	c.mu.Lock()
	id, st, cgroup := c.rec.ID, c.rec.State, d.containerCgroup(c.rec)
	c.mu.Unlock()
	s := cri.Sample{Time: time.Now(), StartedAt: st.StartedAt}
	if st.Status == api.StatusRunning || st.Status == api.StatusPaused {
		sampleCgroup(cgroup, &s)
	}
	dir, used, inodes := d.images.Snapshots().WritableUsage(id)
	s.Layer = cri.LayerSample{Mountpoint: filepath.Join(d.cfg.Root, "image"), UsedBytes: used, Inodes: inodes}
	var fs unix.Statfs_t
	if dir != "" && unix.Statfs(dir, &fs) == nil {
		s.Layer.CapacityBytes = fs.Blocks * uint64(fs.Bsize)
		s.Layer.InodesTotal, s.Layer.InodesFree = fs.Files, fs.Ffree
	}
	return s, nil
}

// PodInterfaces reads the traffic counters of a pod's interfaces from their host ends:
// what the host's veth received, the pod sent. A pod on the host's network has none.
func (d *Daemon) PodInterfaces(ctx context.Context, ref string) ([]cri.Interface, error) {
	pod, err := d.InspectPod(ctx, ref)
	if err != nil {
		return nil, err
	}
	if d.net == nil {
		return nil, nil
	}
	var out []cri.Interface
	for _, ep := range d.net.Endpoints(pod.InfraID) {
		dir := filepath.Join("/sys/class/net", ep.HostIf, "statistics")
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("pod %s: interface %s: %w", pod.Name, ep.HostIf, errdefs.ErrNotFound)
		}
		n := func(name string) uint64 { return readUint(filepath.Join(dir, name)) }
		out = append(out, cri.Interface{
			Name:    ep.IfName,
			RxBytes: n("tx_bytes"), RxPackets: n("tx_packets"), RxErrors: n("tx_errors"), RxDropped: n("tx_dropped"),
			TxBytes: n("rx_bytes"), TxPackets: n("rx_packets"), TxErrors: n("rx_errors"), TxDropped: n("rx_dropped"),
		})
	}
	return out, nil
}

// noLimit is where cgroup v1 puts "unlimited" (the largest page-aligned int64).
const noLimit = 1 << 62

// sampleCgroup reads the container cgroup at path (v1 or v2) into s.
func sampleCgroup(path string, s *cri.Sample) {
	var procs, threads string
	if cgroupVersion() == "2" {
		dir := filepath.Join("/sys/fs/cgroup", path)
		sampleV2(dir, s)
		procs, threads = filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.threads")
	} else {
		sampleV1(path, s)
		procs, threads = filepath.Join("/sys/fs/cgroup/pids", path, "cgroup.procs"), filepath.Join("/sys/fs/cgroup/pids", path, "tasks")
	}
	pids := readLines(procs)
	s.Processes, s.Threads = uint64(len(pids)), uint64(len(readLines(threads)))
	s.FileDescriptors, s.Sockets = openFiles(pids)
}

func sampleV1(path string, s *cri.Sample) {
	at := func(ctrl, file string) string { return filepath.Join("/sys/fs/cgroup", ctrl, path, file) }
	cpuStat := statFile(at("cpu", "cpu.stat"))
	acct := statFile(at("cpuacct", "cpuacct.stat"))
	s.CPU = cri.CPUSample{
		UsageNs: readUint(at("cpuacct", "cpuacct.usage")),
		UserNs:  acct["user"] * (1e9 / 100), SystemNs: acct["system"] * (1e9 / 100), // USER_HZ ticks
		Periods: cpuStat["nr_periods"], ThrottledPeriods: cpuStat["nr_throttled"], ThrottledNs: cpuStat["throttled_time"],
	}
	ms := statFile(at("memory", "memory.stat"))
	s.Memory = cri.MemorySample{
		Usage: readUint(at("memory", "memory.usage_in_bytes")), RSS: ms["total_rss"], Cache: ms["total_cache"],
		MappedFile: ms["total_mapped_file"], Swap: ms["total_swap"], Kernel: readUint(at("memory", "memory.kmem.usage_in_bytes")),
		MaxUsage: readUint(at("memory", "memory.max_usage_in_bytes")), Failcnt: readUint(at("memory", "memory.failcnt")),
		PageFaults: ms["total_pgfault"], MajorPageFaults: ms["total_pgmajfault"],
	}
	s.Memory.WorkingSet = workingSet(s.Memory.Usage, ms["total_inactive_file"])
	s.OOMEvents = statFile(at("memory", "memory.oom_control"))["oom_kill"]
	s.Limits = cri.Limits{CPUPeriod: readUint(at("cpu", "cpu.cfs_period_us")), CPUQuota: readInt(at("cpu", "cpu.cfs_quota_us")),
		CPUShares: readUint(at("cpu", "cpu.shares")), Memory: limit(readUint(at("memory", "memory.limit_in_bytes"))),
		MemorySwap: limit(readUint(at("memory", "memory.memsw.limit_in_bytes")))}
	s.ThreadsMax = readUint(at("pids", "pids.max")) // "max" reads as 0: none
	for _, l := range readLines(at("blkio", "blkio.throttle.io_service_bytes_recursive")) {
		addIO(l, &s.IO.ReadBytes, &s.IO.WriteBytes)
	}
	for _, l := range readLines(at("blkio", "blkio.throttle.io_serviced_recursive")) {
		addIO(l, &s.IO.Reads, &s.IO.Writes)
	}
}

func sampleV2(dir string, s *cri.Sample) {
	at := func(file string) string { return filepath.Join(dir, file) }
	cs := statFile(at("cpu.stat"))
	s.CPU = cri.CPUSample{UsageNs: cs["usage_usec"] * 1000, UserNs: cs["user_usec"] * 1000, SystemNs: cs["system_usec"] * 1000,
		Periods: cs["nr_periods"], ThrottledPeriods: cs["nr_throttled"], ThrottledNs: cs["throttled_usec"] * 1000}
	ms := statFile(at("memory.stat"))
	ev := statFile(at("memory.events"))
	kernel := ms["kernel"]
	if kernel == 0 {
		kernel = ms["kernel_stack"] + ms["slab"] + ms["sock"]
	}
	s.Memory = cri.MemorySample{Usage: readUint(at("memory.current")), RSS: ms["anon"], Cache: ms["file"], MappedFile: ms["file_mapped"],
		Swap: readUint(at("memory.swap.current")), Kernel: kernel, MaxUsage: readUint(at("memory.peak")), Failcnt: ev["max"],
		PageFaults: ms["pgfault"], MajorPageFaults: ms["pgmajfault"]}
	s.Memory.WorkingSet = workingSet(s.Memory.Usage, ms["inactive_file"])
	s.OOMEvents = ev["oom_kill"]
	quota, period, _ := strings.Cut(readString(at("cpu.max")), " ")
	s.Limits.CPUQuota = -1
	if quota != "max" {
		fmt.Sscan(quota, &s.Limits.CPUQuota)
	}
	fmt.Sscan(period, &s.Limits.CPUPeriod)
	if w := readUint(at("cpu.weight")); w > 0 {
		s.Limits.CPUShares = 2 + (w-1)*262142/9999 // the inverse of runc's shares-to-weight map
	}
	s.Limits.Memory = readUint(at("memory.max")) // "max" reads as 0: none
	if swap := readUint(at("memory.swap.max")); swap > 0 && s.Limits.Memory > 0 {
		s.Limits.MemorySwap = s.Limits.Memory + swap
	}
	s.ThreadsMax = readUint(at("pids.max"))
	for _, l := range readLines(at("io.stat")) {
		for _, f := range strings.Fields(l)[1:] {
			k, v, _ := strings.Cut(f, "=")
			var n uint64
			fmt.Sscan(v, &n)
			switch k {
			case "rbytes":
				s.IO.ReadBytes += n
			case "wbytes":
				s.IO.WriteBytes += n
			case "rios":
				s.IO.Reads += n
			case "wios":
				s.IO.Writes += n
			}
		}
	}
}

// workingSet is the memory the container cannot do without: its use less the page cache
// the kernel would reclaim first, as the kubelet counts it.
func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

func limit(v uint64) uint64 {
	if v >= noLimit {
		return 0
	}
	return v
}

// addIO adds a v1 blkio line "MAJ:MIN Read|Write N" to read or write.
func addIO(line string, read, write *uint64) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return
	}
	var n uint64
	fmt.Sscan(f[2], &n)
	switch f[1] {
	case "Read":
		*read += n
	case "Write":
		*write += n
	}
}

// openFiles counts the open file descriptors of pids and those that are sockets.
func openFiles(pids []string) (fds, sockets uint64) {
	for _, p := range pids {
		dir := filepath.Join("/proc", p, "fd")
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			fds++
			if t, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(t, "socket:") {
				sockets++
			}
		}
	}
	return fds, sockets
}

func readString(path string) string {
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

func readInt(path string) int64 {
	var v int64
	fmt.Sscan(readString(path), &v)
	return v
}

func readLines(path string) []string {
	s := readString(path)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// statFile reads a cgroup file of "key value" lines.
func statFile(path string) map[string]uint64 {
	out := map[string]uint64{}
	for _, l := range readLines(path) {
		k, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		var n uint64
		fmt.Sscan(v, &n)
		out[k] = n
	}
	return out
}
