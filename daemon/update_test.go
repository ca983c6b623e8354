package daemon

import (
	"errors"
	"testing"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func TestApplyResourceUpdate(t *testing.T) {
	adj := 500
	badAdj := 1001
	for name, tc := range map[string]struct {
		u    api.ResourceUpdate
		want api.HostConfig // from {Memory 64M, MemorySwap 128M, NanoCPUs 1e9, CPUShares 512}
		bad  bool
	}{
		"nothing": {api.ResourceUpdate{}, api.HostConfig{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 1e9, CPUShares: 512}, false},
		"memory resets swap": {api.ResourceUpdate{Memory: 256 << 20},
			api.HostConfig{Memory: 256 << 20, NanoCPUs: 1e9, CPUShares: 512}, false},
		"memory and swap": {api.ResourceUpdate{Memory: 256 << 20, MemorySwap: -1},
			api.HostConfig{Memory: 256 << 20, MemorySwap: -1, NanoCPUs: 1e9, CPUShares: 512}, false},
		"quota": {api.ResourceUpdate{CPUQuota: 50000, CPUPeriod: 200000},
			api.HostConfig{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 25e7, CPUShares: 512}, false},
		"quota, default period": {api.ResourceUpdate{CPUQuota: 50000},
			api.HostConfig{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 5e8, CPUShares: 512}, false},
		"cpuset, pids, oom": {api.ResourceUpdate{CpusetCpus: "0-1,3", CpusetMems: "0", PidsLimit: 50, OomScoreAdj: &adj},
			api.HostConfig{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 1e9, CPUShares: 512, CpusetCpus: "0-1,3", CpusetMems: "0", PidsLimit: 50, OomScoreAdj: 500}, false},
		"bad cpuset":    {u: api.ResourceUpdate{CpusetCpus: "3-1"}, bad: true},
		"bad cpuset 2":  {u: api.ResourceUpdate{CpusetMems: "a"}, bad: true},
		"bad period":    {u: api.ResourceUpdate{CPUQuota: 1000, CPUPeriod: 10}, bad: true},
		"negative":      {u: api.ResourceUpdate{CPUQuota: -5}, bad: true},
		"oom too large": {u: api.ResourceUpdate{OomScoreAdj: &badAdj}, bad: true},
	} {
		h := api.HostConfig{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 1e9, CPUShares: 512}
		err := applyResourceUpdate(&h, tc.u)
		if tc.bad {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%s: error %v, want invalid argument", name, err)
			}
			continue
		}
		if err != nil || h.Memory != tc.want.Memory || h.MemorySwap != tc.want.MemorySwap || h.NanoCPUs != tc.want.NanoCPUs ||
			h.CPUShares != tc.want.CPUShares || h.CpusetCpus != tc.want.CpusetCpus || h.CpusetMems != tc.want.CpusetMems ||
			h.PidsLimit != tc.want.PidsLimit || h.OomScoreAdj != tc.want.OomScoreAdj {
			t.Errorf("%s: %+v (%v), want %+v", name, h, err, tc.want)
		}
	}
}

func TestCgroupParsing(t *testing.T) {
	var r, w uint64
	for _, l := range []string{"8:0 Read 4096", "8:0 Write 100", "8:0 Sync 7", "8:16 Read 4", "Total 4200", "bad"} {
		addIO(l, &r, &w)
	}
	if r != 4100 || w != 100 {
		t.Errorf("blkio: read %d write %d, want 4100 and 100", r, w)
	}
	if workingSet(100, 30) != 70 || workingSet(10, 30) != 0 {
		t.Error("working set must be usage less inactive file, never below zero")
	}
	if limit(9223372036854771712) != 0 || limit(64<<20) != 64<<20 {
		t.Error("v1's unlimited must read as no limit")
	}
}
