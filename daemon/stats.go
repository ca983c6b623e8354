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
)

func (d *Daemon) handleStats(w http.ResponseWriter, r *http.Request, c *container) error {
	s, err := d.Stats(r.Context(), c.rec.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

// containerStats samples a running container: its cgroup's counters and its network
// namespace's interfaces.
func (d *Daemon) containerStats(c *container) api.Stats {
	s := cgroupStats(d.containerCgroup(c.rec))
	s.ID, s.Name = c.rec.ID, c.rec.Name
	c.mu.Lock()
	pid, hostNet := c.rec.State.Pid, c.rec.Config.Host.NetworkMode == "host"
	c.mu.Unlock()
	if pid > 0 && !hostNet {
		s.Networks = netDevStats(fmt.Sprintf("/proc/%d/net/dev", pid))
	}
	return s
}

// netDevStats reads a /proc/PID/net/dev table: the counters of every interface of that
// process's network namespace but loopback.
func netDevStats(path string) map[string]api.NetworkStats {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]api.NetworkStats{}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || strings.Contains(name, "|") {
			continue // the two header lines have '|' and no ':' before them
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		n := make([]uint64, 12)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		// Receive: bytes packets errs drop fifo frame compressed multicast; then transmit.
		out[name] = api.NetworkStats{RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11]}
	}
	return out
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
		s.BlockRead, s.BlockWrite = ioStatV2(filepath.Join(dir, "io.stat"))
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
	s.BlockRead, s.BlockWrite = blkioV1(filepath.Join("/sys/fs/cgroup/blkio", path, "blkio.throttle.io_service_bytes_recursive"))
	return s
}

// blkioV1 sums the Read and Write lines ("MAJ:MIN Read N") of a cgroup v1 blkio file
// over the devices, as Docker reports them.
func blkioV1(path string) (read, write uint64) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write
}

// ioStatV2 sums rbytes and wbytes of a cgroup v2 io.stat ("MAJ:MIN rbytes=N wbytes=N ...").
func ioStatV2(path string) (read, write uint64) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, f := range strings.Fields(string(data)) {
		if v, ok := strings.CutPrefix(f, "rbytes="); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			read += n
		} else if v, ok := strings.CutPrefix(f, "wbytes="); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			write += n
		}
	}
	return read, write
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
