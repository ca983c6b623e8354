package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/internal/procstatus"
	"github.com/drover/drover/runtime/libcontainer"
)

// TestDaemonRunsItsPerContainerBinary: a daemon of make's bin/drover writes out the
// drover-runtime it carries, under its root; its containers' shims run a sealed in-memory
// copy of that file, and a pod's pause the file itself (ADR 0003).
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
	// The shim runs a sealed in-memory copy of the daemon's drover-runtime under its root.
	installed, _ := filepath.Glob(filepath.Join(e.root, "bin", "*", "drover-runtime"))
	if len(installed) != 1 {
		t.Fatalf("want one drover-runtime under %s, found %v", filepath.Join(e.root, "bin"), installed)
	}
	if got, err := os.ReadFile(installed[0]); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s differs from bin/drover-runtime (%d bytes against %d): %v", installed[0], len(got), len(want), err)
	}
	shimExe := filepath.Join("/proc", st["PPid"], "exe")
	if link, _ := os.Readlink(shimExe); !strings.HasPrefix(link, "/memfd:") || !strings.Contains(link, installed[0]) {
		t.Fatalf("the shim runs %s; want the daemon's sealed copy of %s", link, installed[0])
	}
	f, err := os.Open(shimExe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !libcontainer.IsSealed(f) {
		t.Fatal("the shim's executable is not sealed")
	}
	if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the shim's executable differs from bin/drover-runtime (%d bytes against %d): %v", len(got), len(want), err)
	}

	// The infra process of a pod that shares its PID namespace is the same file,
	// bind-mounted as /pause.
	podID := strings.TrimSpace(e.must("pod", "create", "--name", "pausepod", "--share", "net,ipc,uts,pid"))
	infra := e.inspect(podID[:12]+"-infra", "{{.State.Pid}}")
	// Its init execs /pause after the start returns: wait for that.
	pauseExe := filepath.Join("/proc", infra, "exe")
	e.eventually(10*time.Second, "the pod's pause runs the daemon's drover-runtime", func() bool {
		a, errA := os.Stat(pauseExe)
		b, errB := os.Stat(installed[0])
		return errA == nil && errB == nil && os.SameFile(a, b)
	})
}
