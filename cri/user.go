package cri

import (
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/internal/procstatus"
)

// processUser is the identity a container's first process runs with, as the kernel
// reports it, for ContainerStatus.user: what the process got, not what was asked. Nil
// when the process cannot be read.
func processUser(pid int) *runtimeapi.ContainerUser {
	if pid <= 0 {
		return nil
	}
	st, err := procstatus.Read(pid)
	if err != nil {
		return nil
	}
	first := func(key string) (int64, bool) {
		f := strings.Fields(st[key])
		if len(f) == 0 {
			return 0, false
		}
		id, err := strconv.ParseInt(f[0], 10, 64)
		return id, err == nil
	}
	uid, okU := first("Uid")
	gid, okG := first("Gid")
	if !okU || !okG {
		return nil
	}
	u := &runtimeapi.LinuxContainerUser{Uid: uid, Gid: gid}
	for _, g := range strings.Fields(st["Groups"]) {
		if id, err := strconv.ParseInt(g, 10, 64); err == nil {
			u.SupplementalGroups = append(u.SupplementalGroups, id)
		}
	}
	return &runtimeapi.ContainerUser{Linux: u}
}
