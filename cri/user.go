package cri

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// processUser is the identity a container's first process runs with, read from the
// kernel (/proc/PID/status), for ContainerStatus.user: what the process got, not what
// was asked. Nil when the process cannot be read.
func processUser(pid int) *runtimeapi.ContainerUser {
	if pid <= 0 {
		return nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	u := &runtimeapi.LinuxContainerUser{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(val)
		switch key {
		case "Uid", "Gid":
			if len(fields) == 0 {
				return nil
			}
			id, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return nil
			}
			if key == "Uid" {
				u.Uid = id
			} else {
				u.Gid = id
			}
		case "Groups":
			for _, g := range fields {
				if id, err := strconv.ParseInt(g, 10, 64); err == nil {
					u.SupplementalGroups = append(u.SupplementalGroups, id)
				}
			}
		}
	}
	return &runtimeapi.ContainerUser{Linux: u}
}
