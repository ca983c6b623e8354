package api

// ResourceUpdate changes the cgroup limits of an existing container. Zero values leave a
// limit as it is (Docker's container update and the CRI's UpdateContainerResources both
// mean "not set" by zero).
type ResourceUpdate struct {
	Memory     int64 // bytes
	MemorySwap int64 // memory plus swap in bytes; -1 unlimited
	CPUShares  int64
	// CPUQuota and CPUPeriod (microseconds) give the CFS bandwidth; both or neither.
	CPUQuota   int64
	CPUPeriod  int64
	CpusetCpus string
	CpusetMems string
	PidsLimit  int64 // -1 unlimited
	// OomScoreAdj is set when not nil: 0 is a value of its own.
	OomScoreAdj *int
}
