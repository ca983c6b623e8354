package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestOrphanFilesRemoved: a root filesystem and a log directory that no record owns (a
// --rm removal finishes them in the background; a kill -9 can interrupt it) are removed by
// the next daemon, and a container that has a record keeps its own.
func TestOrphanFilesRemoved(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	id := strings.TrimSpace(e.must("create", "busybox", "echo", "kept"))
	e.stopDaemon(syscall.SIGKILL)
	orphan := strings.Repeat("ab", 32)
	layers := filepath.Join(e.root, "image", "snapshot", "containers")
	if out, err := exec.Command("cp", "-a", filepath.Join(layers, id), filepath.Join(layers, orphan)).CombinedOutput(); err != nil {
		t.Fatalf("copy a container layer: %v: %s", err, out)
	}
	logs := filepath.Join(e.root, "containers", orphan)
	if err := os.MkdirAll(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, orphan+"-json.log"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startDaemon()
	for _, p := range []string{filepath.Join(layers, orphan), logs} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after a restart (stat: %v)", p, err)
		}
	}
	if got := e.must("start", "-a", id); got != "kept\n" {
		t.Fatalf("the container with a record: start -a printed %q", got)
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
