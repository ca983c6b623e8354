// Package cgroupwarm takes a container start's slowest kernel wait off its critical path.
//
// A runtime moves every new container's first process into the container's cgroups. Each
// such move takes the kernel's global cgroup_threadgroup_rwsem for writing, and the first
// writer after a quiet spell waits for a full RCU grace period first (rcu_sync_enter, about
// 8 ms on a 2-vCPU VM); writers that follow within a grace period do not wait. Warm pays
// that wait in the background, while the caller is still preparing the container, by adding
// this process again to a cgroup it is already in: a move that moves nothing.
package cgroupwarm

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Warm starts the wait and returns at once. Errors are ignored: without it, the move into
// the container's cgroups just pays the wait itself.
func Warm() {
	path := procsFile()
	if path == "" {
		return
	}
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString(strconv.Itoa(os.Getpid()))
	}()
}

// procsFile is the cgroup.procs file of a cgroup this process is in, "" when none is
// found. It is looked up once.
var procsFile = sync.OnceValue(func() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "ID:CONTROLLERS:PATH"; cgroup v2 has ID 0 and no controllers.
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dirs []string
		if parts[1] == "" {
			dirs = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}
		} else {
			dirs = []string{filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(strings.Split(parts[1], ",")[0], "name="))}
		}
		for _, d := range dirs {
			p := filepath.Join(d, parts[2], "cgroup.procs")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
})
