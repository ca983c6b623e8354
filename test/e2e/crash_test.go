package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashRecovery kills the daemon with SIGKILL at many points of run --rm, restarts it,
// and checks that it comes back consistent: every container it lists can be removed and
// the teardown finds no mount, cgroup, shim or bundle left.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newEnv(t)
	e.importBusybox("busybox")
	for i, delay := range []time.Duration{0, 2, 5, 10, 20, 35, 50, 80, 120, 200} {
		cmd := exec.Command(e.bin, "run", "--rm", "busybox", "sh", "-c", "echo hi; sleep 0.05")
		cmd.Env = append(os.Environ(), "DROVER_HOST="+e.sock)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		e.stopDaemon(syscall.SIGKILL)
		_ = cmd.Wait() // the CLI loses its daemon; any exit is fine
		e.startDaemon()
		// The daemon must answer and list only containers it can act on.
		out := e.must("ps", "-a", "--format", "{{.ID}} {{.State}}")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			id := strings.Fields(line)[0]
			if _, errOut, code := e.drover("rm", "-f", id); code != 0 && !strings.Contains(errOut, "no such container") {
				t.Fatalf("iteration %d: rm -f %s after crash: %s", i, id, errOut)
			}
		}
		// And it still runs containers.
		if got := e.must("run", "--rm", "busybox", "echo", "ok"); got != "ok\n" {
			t.Fatalf("iteration %d: run after crash: %q", i, got)
		}
	}
}

// TestShimKilled: when a container's shim dies, the daemon ends the container, records
// the exit and leaves nothing behind.
func TestShimKilled(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	id := strings.TrimSpace(e.must("run", "-d", "busybox", "sleep", "300"))
	data, err := os.ReadFile(e.exec + "/containers/" + id + "/shim.pid")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(atoi(t, string(data)), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.eventually(15*time.Second, "the exit to be recorded", func() bool {
		return e.inspect(id, "{{.State.Status}}") == "exited"
	})
	e.must("rm", id)
}
