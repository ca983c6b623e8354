package cri

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
)

// UpdateContainerResources changes a container's CPU, cpuset, memory and swap limits and
// its oom_score_adj. A running container gets them at once (the oom_score_adj from its
// next start); a created one when it starts. What drover cannot set is refused by name.
func (s *Server) UpdateContainerResources(ctx context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if err != nil {
		return nil, toStatus(err, "update container resources %s", req.GetContainerId())
	}
	if req.GetWindows() != nil {
		return nil, status.Error(codes.InvalidArgument, "windows resources given to a Linux runtime: send linux resources")
	}
	r := req.GetLinux()
	if err := unsupportedResources(r); err != nil {
		return nil, err
	}
	if err := s.engine.UpdateContainerResources(ctx, c.ID, resourceUpdate(r)); err != nil {
		return nil, toStatus(err, "update container resources %s", c.ID)
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// resourceUpdate is the engine's update for the CRI's resources; zero keeps a limit.
func resourceUpdate(r *runtimeapi.LinuxContainerResources) api.ResourceUpdate {
	u := api.ResourceUpdate{Memory: r.GetMemoryLimitInBytes(), MemorySwap: r.GetMemorySwapLimitInBytes(), CPUShares: r.GetCpuShares(),
		CPUQuota: r.GetCpuQuota(), CPUPeriod: r.GetCpuPeriod(), CpusetCpus: r.GetCpusetCpus(), CpusetMems: r.GetCpusetMems()}
	if r != nil {
		adj := int(r.GetOomScoreAdj())
		u.OomScoreAdj = &adj
	}
	return u
}

// unsupportedResources names the first resource drover cannot set: hugepage limits (the
// kubelet sends a zero limit per page size, which is no limit and accepted) and raw
// cgroup v2 files.
func unsupportedResources(r *runtimeapi.LinuxContainerResources) error {
	for _, h := range r.GetHugepageLimits() {
		if h.GetLimit() != 0 {
			return status.Errorf(codes.InvalidArgument, "resource hugepage_limits (%s) is not supported by drover yet: leave it out", h.GetPageSize())
		}
	}
	if len(r.GetUnified()) > 0 {
		return status.Error(codes.InvalidArgument, "resource unified (raw cgroup v2 files) is not supported by drover yet: leave it out")
	}
	return nil
}
