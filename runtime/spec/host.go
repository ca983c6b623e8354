package spec

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// host holds the facts about this machine that shape a spec. Generate reads them through
// the probeHost variable so tests can pretend to be another machine.
type host struct {
	// cgroup2 is true on a unified (cgroup v2 only) hierarchy.
	cgroup2 bool
	// swapAccounting is true when the memory cgroup can limit swap.
	swapAccounting bool
	// kernel is the running kernel's major and minor version.
	kernel [2]int
	// bounding is the capability bounding set of this process: a container cannot get
	// capabilities outside it.
	bounding map[string]bool
	// rlimitHard returns the hard limit of an rlimit resource for this process.
	rlimitHard func(resource int) (uint64, error)
	// canRaiseRlimits is true with CAP_SYS_RESOURCE: hard limits may then go up to
	// nrOpen (nofile) or infinity (the others).
	canRaiseRlimits bool
	// nrOpen is /proc/sys/fs/nr_open, the kernel's ceiling for nofile.
	nrOpen uint64
	// numCPU bounds --cpus.
	numCPU int
	// hostname is used as the container's hostname with host networking.
	hostname string
}

// probeHost gathers the host facts; tests replace it.
var probeHost = realHost

// realHost probes the facts that cannot change while the process runs once, and the
// hostname each time.
func realHost() (*host, error) {
	fixed, err := fixedHost()
	if err != nil {
		return nil, err
	}
	h := *fixed
	h.hostname, _ = os.Hostname()
	return &h, nil
}

var fixedHost = sync.OnceValues(func() (*host, error) {
	h := &host{numCPU: runtime.NumCPU(), rlimitHard: hostRlimitHard}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.cgroup2 = true
	}
	h.swapAccounting = swapAccounting(h.cgroup2)
	h.kernel = kernelVersion()
	bnd, eff, err := ownCapabilities()
	if err != nil {
		return nil, fmt.Errorf("read own capabilities: %w", err)
	}
	h.bounding = capNamesOfMask(bnd)
	h.canRaiseRlimits = eff&(1<<capSysResource) != 0
	h.nrOpen = 1 << 20
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			h.nrOpen = n
		}
	}
	return h, nil
})

func hostRlimitHard(resource int) (uint64, error) {
	var l unix.Rlimit
	if err := unix.Getrlimit(resource, &l); err != nil {
		return 0, err
	}
	return l.Max, nil
}

// swapAccounting reports whether the memory controller can limit swap. On v1 the memsw
// files exist only with swap accounting on; on v2 the swap files appear in child cgroups,
// so the root's controller list is the best cheap evidence.
func swapAccounting(cgroup2 bool) bool {
	if !cgroup2 {
		_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
		return err == nil
	}
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil || !strings.Contains(" "+string(b)+" ", " memory ") {
		return false
	}
	_, err = os.Stat("/proc/swaps")
	return err == nil
}

// kernelVersion returns the running kernel's major and minor numbers, zeros if unknown.
func kernelVersion() [2]int {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return [2]int{}
	}
	v, _ := parseKernelVersion(unix.ByteSliceToString(u.Release[:]))
	return v
}

// parseKernelVersion reads "6.1.0-18-amd64" or "4.8" as {major, minor}.
func parseKernelVersion(s string) ([2]int, error) {
	var v [2]int
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return v, fmt.Errorf("kernel version %q: want major.minor", s)
	}
	for i := range 2 {
		p := parts[i]
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 || (i == 0 && end != len(p)) {
			return v, fmt.Errorf("kernel version %q: want major.minor", s)
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return v, fmt.Errorf("kernel version %q: %w", s, err)
		}
		v[i] = n
	}
	return v, nil
}

// ownCapabilities reads this process's bounding and effective capability masks.
func ownCapabilities() (bounding, effective uint64, err error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var foundB, foundE bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "CapBnd":
			bounding, err = strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			foundB = err == nil
		case "CapEff":
			effective, err = strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			foundE = err == nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s: %w", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if !foundB || !foundE {
		return 0, 0, fmt.Errorf("no CapBnd/CapEff in /proc/self/status")
	}
	return bounding, effective, nil
}
