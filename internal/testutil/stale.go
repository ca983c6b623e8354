package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
)

// ownerFile, in a test daemon's directory, names the test process, the network prefix
// and the cgroup parent, so that a later test binary can clean up after one that died.
const ownerFile = "owner"

var sweepOnce sync.Once

func writeOwner(d *Daemon) error {
	return os.WriteFile(filepath.Join(d.Dir, ownerFile), fmt.Appendf(nil, "%d %s %s\n", os.Getpid(), d.NetPrefix, d.Cgroup), 0o600)
}

// sweepStaleDaemons removes what the daemons of test binaries that died without running
// their cleanup (kill -9, a test timeout) left on the host: their containers' processes,
// mounts, cgroups, links, nftables table and directory. Left alone, the mounts alone make
// every later container start slower (each new mount namespace copies them).
func sweepStaleDaemons() {
	dirs, _ := filepath.Glob("/tmp/dd*")
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) != 3 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid == os.Getpid() || processExists(pid) {
			continue
		}
		removeStaleDaemon(dir, f[1], f[2])
	}
}

func removeStaleDaemon(dir, prefix, cgroup string) {
	groups := cgroupTree(cgroup)
	for _, g := range groups {
		if data, err := os.ReadFile(filepath.Join(g, "cgroup.procs")); err == nil {
			for _, p := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(p); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	UnmountAll(dir)
	for _, g := range groups { // deepest first; a cgroup empties shortly after its last kill
		for range 50 {
			if err := os.Remove(g); err == nil || os.IsNotExist(err) {
				break
			}
			syscall.Nanosleep(&syscall.Timespec{Nsec: 10e6}, nil)
		}
	}
	if len(prefix) >= 3 {
		// Host veths share the first three characters with other daemons' that hold the
		// same code later: delete links only while holding the code's lock.
		if lock, err := os.OpenFile(filepath.Join("/run/drover-e2e", "prefix-"+prefix[:3]+".lock"), os.O_CREATE|os.O_RDWR, 0o600); err == nil {
			if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				if links, err := netlink.LinkList(); err == nil {
					for _, l := range links {
						if strings.HasPrefix(l.Attrs().Name, prefix[:3]) {
							_ = netlink.LinkDel(l)
						}
					}
				}
			}
			lock.Close()
		}
		_ = exec.Command("nft", "delete", "table", "inet", prefix).Run()
	}
	_ = os.RemoveAll(dir)
}

// cgroupTree lists the cgroup directories named parent in every hierarchy (v1 and v2),
// with all their descendants, deepest first.
func cgroupTree(parent string) []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
	if v2, _ := filepath.Glob("/sys/fs/cgroup/" + parent); len(v2) > 0 {
		roots = append(roots, v2...)
	}
	for _, r := range roots {
		_ = filepath.WalkDir(r, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.Count(out[i], "/") > strings.Count(out[j], "/") })
	return out
}
