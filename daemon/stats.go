package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func (d *Daemon) handleStats(w http.ResponseWriter, r *http.Request, c *container) error {
	if !c.running() {
		return fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	s := cgroupStats(d.containerCgroup(c.rec))
	s.ID, s.Name = c.rec.ID, c.rec.Name
	writeJSON(w, http.StatusOK, s)
	return nil
}

func cgroupVersion() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "2"
	}
	return "1"
}

func pid() int { return os.Getpid() }

// cgroupStats samples a container cgroup on v1 or v2.
func cgroupStats(path string) api.Stats {
	s := api.Stats{Read: time.Now().UTC(), SystemNs: systemCPU(), OnlineCPUs: goruntime.NumCPU()}
	if cgroupVersion() == "2" {
		dir := filepath.Join("/sys/fs/cgroup", path)
		s.MemoryUsage = readUint(filepath.Join(dir, "memory.current")) - statValue(filepath.Join(dir, "memory.stat"), "inactive_file")
		s.MemoryLimit = readUint(filepath.Join(dir, "memory.max"))
		s.CPUUsageNs = statValue(filepath.Join(dir, "cpu.stat"), "usage_usec") * 1000
		s.Pids = readUint(filepath.Join(dir, "pids.current"))
		return s
	}
	mem := filepath.Join("/sys/fs/cgroup/memory", path)
	usage := readUint(filepath.Join(mem, "memory.usage_in_bytes"))
	inactive := statValue(filepath.Join(mem, "memory.stat"), "total_inactive_file")
	if inactive < usage {
		usage -= inactive
	}
	s.MemoryUsage = usage
	s.MemoryLimit = readUint(filepath.Join(mem, "memory.limit_in_bytes"))
	s.CPUUsageNs = readUint(filepath.Join("/sys/fs/cgroup/cpuacct", path, "cpuacct.usage"))
	s.Pids = readUint(filepath.Join("/sys/fs/cgroup/pids", path, "pids.current"))
	return s
}

func readUint(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return v
}

// statValue reads "key value" from a cgroup stat file.
func statValue(path, key string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// systemCPU is the host's total CPU time in nanoseconds, from /proc/stat.
func systemCPU() uint64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var total uint64
	for _, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseUint(f, 10, 64)
		total += n
	}
	return total * (1e9 / 100) // USER_HZ is 100 on Linux
}
