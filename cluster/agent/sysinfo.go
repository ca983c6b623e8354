package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// machine is what the node reports of its hardware and system.
type machine struct {
	cpus          int
	memoryBytes   int64
	memAvailable  int64
	storageBytes  int64
	storageFree   int64
	kernel        string
	osImage       string
	pidMax        int64
	pidsInUse     int64
	bootID        string
	machineID     string
	architecture  string
	operatingSyst string
}

// readMachine reads /proc and statfs(stateDir).
func readMachine(stateDir string) (machine, error) {
	m := machine{cpus: runtime.NumCPU(), architecture: runtime.GOARCH, operatingSyst: runtime.GOOS}
	mem, err := meminfo()
	if err != nil {
		return m, err
	}
	m.memoryBytes, m.memAvailable = mem["MemTotal"], mem["MemAvailable"]
	var st syscall.Statfs_t
	if err := syscall.Statfs(stateDir, &st); err != nil {
		return m, fmt.Errorf("statfs %s: %w", stateDir, err)
	}
	m.storageBytes = int64(st.Blocks) * st.Bsize
	m.storageFree = int64(st.Bavail) * st.Bsize
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		m.kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.osImage = osImage()
	if data, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		m.pidMax, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		// The fourth field is running/total scheduling entities (threads).
		if f := strings.Fields(string(data)); len(f) > 3 {
			if _, total, ok := strings.Cut(f[3], "/"); ok {
				m.pidsInUse, _ = strconv.ParseInt(total, 10, 64)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		m.bootID = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/etc/machine-id"); err == nil {
		m.machineID = strings.TrimSpace(string(data))
	}
	return m, nil
}

// meminfo returns /proc/meminfo's fields in bytes.
func meminfo() (map[string]int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, fmt.Errorf("read memory size: %w", err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		out[name] = v
	}
	if out["MemTotal"] == 0 {
		return nil, fmt.Errorf("read memory size: no MemTotal in /proc/meminfo")
	}
	return out, nil
}

// osImage is os-release's PRETTY_NAME, as the kubelet reports it.
func osImage() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				if u, err := strconv.Unquote(v); err == nil {
					return u
				}
				return v
			}
		}
	}
	return "Linux"
}
