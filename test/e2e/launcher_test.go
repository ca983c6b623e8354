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

// TestWarmShim checks that the daemon keeps one shim booted, that a start still works when
// that shim has died, and that the warm shim goes away with the daemon.
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
	e.eventually(10*time.Second, "exactly one warm shim again", func() bool { return len(e.warmShims()) == 1 })
	warm := e.warmShims()
	e.stopDaemon(syscall.SIGKILL)
	e.eventually(10*time.Second, "the warm shim to exit with its daemon", func() bool {
		return syscall.Kill(warm[0], 0) != nil
	})
	e.startDaemon()
}
