package cri

import "time"

// Sample is one reading of a container's resource use, taken by the engine from the
// container's cgroups, its processes and its writable layer. A container that is not
// running reads as zeros, with Time set and its writable layer measured.
type Sample struct {
	Time      time.Time
	StartedAt time.Time // zero when the container never ran
	CPU       CPUSample
	Memory    MemorySample
	Limits    Limits
	// Processes and Threads are in the container's cgroup now; ThreadsMax is its pids
	// limit (0: none).
	Processes, Threads, ThreadsMax uint64
	// FileDescriptors and Sockets are open in its processes.
	FileDescriptors, Sockets uint64
	OOMEvents                uint64
	Layer                    LayerSample
	IO                       IOSample
}

// CPUSample counts CPU time in nanoseconds since the container's cgroup was made.
type CPUSample struct {
	UsageNs, UserNs, SystemNs uint64
	// Periods, ThrottledPeriods and ThrottledNs are the CFS bandwidth counters.
	Periods, ThrottledPeriods, ThrottledNs uint64
}

// MemorySample is in bytes, except the counts of faults and failures.
type MemorySample struct {
	Usage, WorkingSet, RSS, Cache, MappedFile, Swap, Kernel, MaxUsage uint64
	// Failcnt counts the times the limit was hit.
	Failcnt, PageFaults, MajorPageFaults uint64
}

// Limits are the cgroup limits in force; zero (CPUQuota -1) means none.
type Limits struct {
	CPUPeriod, CPUShares uint64
	CPUQuota             int64
	Memory, MemorySwap   uint64
}

// LayerSample is the use of the container's writable layer and of the filesystem that
// holds it. Mountpoint names that filesystem as ImageFilesystem does.
type LayerSample struct {
	Mountpoint                             string
	UsedBytes, Inodes                      uint64
	CapacityBytes, InodesTotal, InodesFree uint64
}

// IOSample counts block I/O, summed over devices.
type IOSample struct {
	ReadBytes, WriteBytes, Reads, Writes uint64
}

// Interface counts a pod's traffic on one of its network interfaces, as seen from the
// pod (received is what reached the pod).
type Interface struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}
