package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// warmShims lists the daemon's idle shims: children started as "drover shim" with no
// bundle yet.
func (e *env) warmShims() []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		data, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(e.daemon.Process.Pid) {
			continue
		}
		dir := filepath.Dir(s)
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 2 && args[1] == "shim" {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestWarmShim checks that the daemon keeps a shim booted, that a start still works when
// that shim has died, and that idle shims go away with the daemon. Idle means the warm one
// and, at most, the one being filled (ADR 0005).
func TestWarmShim(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	e.eventually(10*time.Second, "a warm shim", func() bool { return len(e.warmShims()) == 1 })
	for _, pid := range e.warmShims() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if out := e.must("run", "--rm", "busybox", "echo", "still starts"); out != "still starts\n" {
		t.Fatalf("run after the warm shim died: %q", out)
	}
	e.eventually(10*time.Second, "a warm shim again", func() bool { n := len(e.warmShims()); return n >= 1 && n <= 2 })
	warm := e.warmShims()
	e.stopDaemon(syscall.SIGKILL)
	e.eventually(10*time.Second, "the idle shims to exit with their daemon", func() bool {
		for _, pid := range warm {
			if syscall.Kill(pid, 0) == nil {
				return false
			}
		}
		return true
	})
	e.startDaemon()
}

// TestShimGroups checks that a shim supervises up to --containers-per-shim containers,
// that a full shim exits once its containers are gone, and that its containers survive a
// daemon restart and a kill of another group's shim.
func TestShimGroups(t *testing.T) {
	e := newEnv(t, "--containers-per-shim", "2")
	e.importBusybox("busybox")
	var ids, shims []string
	for i := 0; i < 3; i++ {
		id := strings.TrimSpace(e.must("run", "-d", "busybox", "sleep", "1000"))
		data, err := os.ReadFile(filepath.Join(e.exec, "containers", id, "shim.pid"))
		if err != nil {
			t.Fatal(err)
		}
		ids, shims = append(ids, id), append(shims, string(data))
	}
	if shims[0] != shims[1] || shims[1] == shims[2] {
		t.Fatalf("shim pids %v: want the first two containers in one shim, the third in another", shims)
	}
	// The third container's shim dies: the first two are not affected.
	third, _ := strconv.Atoi(shims[2])
	syscall.Kill(third, syscall.SIGKILL)
	e.stopDaemon(syscall.SIGKILL)
	e.startDaemon()
	for _, id := range ids[:2] {
		if st := e.inspect(id, "{{.State.Status}}"); st != "running" {
			t.Errorf("container %s after a restart: %s", id[:12], st)
		}
		if out := e.must("exec", id, "echo", "hi"); out != "hi\n" {
			t.Errorf("exec in %s: %q", id[:12], out)
		}
	}
	first, _ := strconv.Atoi(shims[0])
	e.must("rm", "-f", ids[0], ids[1], ids[2])
	e.eventually(10*time.Second, "the full shim to exit with its containers", func() bool {
		return syscall.Kill(first, 0) != nil
	})
}
