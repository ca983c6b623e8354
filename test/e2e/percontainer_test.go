package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/internal/procstatus"
)

// TestDaemonRunsItsPerContainerBinary: a daemon of make's bin/drover writes out the
// drover-runtime it carries, under its root, and runs its containers' shims and a pod's
// pause from that copy (ADR 0003).
func TestDaemonRunsItsPerContainerBinary(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(filepath.Dir(droverBin(t)), "drover-runtime"))
	if err != nil {
		t.Skip("no drover-runtime beside the binary under test: make build writes both, a plain go build embeds none")
	}
	e := newEnv(t)
	e.importBusybox("busybox")
	e.must("run", "-d", "--name", "sleeper", "busybox", "sleep", "60")
	pid, err := strconv.Atoi(e.inspect("sleeper", "{{.State.Pid}}"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := procstatus.Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	shimExe, err := os.Readlink(filepath.Join("/proc", st["PPid"], "exe"))
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Join(e.root, "bin") + "/"; !strings.HasPrefix(shimExe, dir) || filepath.Base(shimExe) != "drover-runtime" {
		t.Fatalf("the shim runs %s; want the daemon's copy of drover-runtime under %s", shimExe, dir)
	}
	if got, err := os.ReadFile(shimExe); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s differs from bin/drover-runtime (%d bytes against %d): %v", shimExe, len(got), len(want), err)
	}

	// The infra process of a pod that shares its PID namespace is the same file,
	// bind-mounted as /pause.
	podID := strings.TrimSpace(e.must("pod", "create", "--name", "pausepod", "--share", "net,ipc,uts,pid"))
	infra := e.inspect(podID[:12]+"-infra", "{{.State.Pid}}")
	// Its init execs /pause after the start returns: wait for that.
	pauseExe := filepath.Join("/proc", infra, "exe")
	e.eventually(10*time.Second, "the pod's pause runs the daemon's drover-runtime", func() bool {
		a, errA := os.Stat(pauseExe)
		b, errB := os.Stat(shimExe)
		return errA == nil && errB == nil && os.SameFile(a, b)
	})
}
