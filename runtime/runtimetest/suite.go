// Package runtimetest is the shared test suite every runtime.Runtime implementation runs
// (the embedded libcontainer and the external OCI binary alike), on real containers.
package runtimetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/testutil"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/spec"
)

// Suite runs the conformance tests against rt. The test process plays the shim: it must
// be a child subreaper, which Suite arranges.
func Suite(t *testing.T, rt runtime.Runtime) {
	testutil.RequiresRoot(t)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	cgroupParent := fmt.Sprintf("drover-rttest-%d", os.Getpid())
	t.Cleanup(func() {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent)
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	h := &harness{t: t, rt: rt, cgroupParent: cgroupParent}

	t.Run("output and exit code", func(t *testing.T) {
		c := h.create(t, []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}, false)
		c.start(t)
		if code := c.wait(t); code != 3 {
			t.Fatalf("exit = %d, want 3", code)
		}
		if out := c.stdout(t); out != "hello\n" {
			t.Fatalf("stdout = %q", out)
		}
		if out := c.stderr(t); out != "oops\n" {
			t.Fatalf("stderr = %q", out)
		}
	})

	t.Run("state kill and delete", func(t *testing.T) {
		c := h.create(t, []string{"sleep", "100"}, false)
		st, err := rt.State(context.Background(), c.id)
		if err != nil || st.Status != runtime.StatusCreated || st.Pid != c.proc.Pid {
			t.Fatalf("state after create = %+v, %v", st, err)
		}
		c.start(t)
		st, err = rt.State(context.Background(), c.id)
		if err != nil || st.Status != runtime.StatusRunning {
			t.Fatalf("state after start = %+v, %v", st, err)
		}
		pids, err := rt.Pids(context.Background(), c.id)
		if err != nil || len(pids) != 1 || pids[0] != c.proc.Pid {
			t.Fatalf("pids = %v, %v", pids, err)
		}
		if err := rt.Pause(context.Background(), c.id); err != nil {
			t.Fatal(err)
		}
		if st, _ := rt.State(context.Background(), c.id); st.Status != runtime.StatusPaused {
			t.Fatalf("state after pause = %+v", st)
		}
		if err := rt.Resume(context.Background(), c.id); err != nil {
			t.Fatal(err)
		}
		if err := rt.Delete(context.Background(), c.id, false); err == nil {
			t.Fatal("delete of a running container without force succeeded")
		}
		if err := rt.Kill(context.Background(), c.id, syscall.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		if code := c.wait(t); code != 128+9 {
			t.Fatalf("exit after SIGKILL = %d", code)
		}
	})

	t.Run("exec", func(t *testing.T) {
		c := h.create(t, []string{"sleep", "100"}, false)
		c.start(t)
		r, w, _ := os.Pipe()
		p := c.spec.Process
		p.Args = []string{"sh", "-c", "echo from exec; exit 4"}
		ep, err := rt.Exec(context.Background(), c.id, p, runtime.IO{Stdout: w, Stderr: w})
		w.Close()
		if err != nil {
			r.Close()
			t.Fatal(err)
		}
		out, _ := io.ReadAll(r)
		r.Close()
		if code := waitPid(t, ep.Pid); code != 4 {
			t.Fatalf("exec exit = %d", code)
		}
		if string(out) != "from exec\n" {
			t.Fatalf("exec output = %q", out)
		}
		_ = rt.Kill(context.Background(), c.id, syscall.SIGKILL, false)
		c.wait(t)
	})

	t.Run("terminal", func(t *testing.T) {
		c := h.create(t, []string{"sh", "-c", "tty; stty size"}, true)
		if c.proc.Console == nil {
			t.Fatal("no console")
		}
		c.start(t)
		out, _ := io.ReadAll(bufio.NewReader(c.proc.Console))
		if code := c.wait(t); code != 0 {
			t.Fatalf("exit = %d, out %q", code, out)
		}
		if !strings.Contains(string(out), "/dev/pts/0") || !strings.Contains(string(out), "24 80") {
			t.Fatalf("terminal output = %q", out)
		}
	})

	t.Run("create failure leaves nothing", func(t *testing.T) {
		bundle := h.bundle(t, "bad", []string{"/no/such/binary"}, false)
		_, err := rt.Create(context.Background(), "bad-"+h.suffix(), bundle, runtime.IO{})
		if err == nil {
			t.Fatal("create of a missing binary succeeded")
		}
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent + "/bad-*")
		if len(dirs) > 0 {
			t.Fatalf("cgroups left: %v", dirs)
		}
	})
}

type harness struct {
	t            *testing.T
	rt           runtime.Runtime
	cgroupParent string
	n            int
}

func (h *harness) suffix() string {
	h.n++
	return fmt.Sprintf("%d-%d", os.Getpid(), h.n)
}

// bundle writes an OCI bundle over a copy-free busybox rootfs (read-only bind of the
// shared test rootfs).
func (h *harness) bundle(t *testing.T, id string, args []string, tty bool) string {
	dir := t.TempDir()
	s, err := spec.Generate(spec.Options{
		ID:             id,
		Rootfs:         testutil.BusyboxRootfs(t),
		ReadonlyRootfs: true,
		Args:           args,
		Terminal:       tty,
		CgroupsPath:    "/" + h.cgroupParent + "/" + id,
		Network:        spec.NetworkNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tty {
		s.Process.ConsoleSize = nil
	}
	data, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type ctr struct {
	h          *harness
	id         string
	spec       *specs.Spec
	proc       runtime.Process
	outR, errR *os.File
	code       *int
}

func (h *harness) create(t *testing.T, args []string, tty bool) *ctr {
	t.Helper()
	id := "c-" + h.suffix()
	bundle := h.bundle(t, id, args, tty)
	data, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	c := &ctr{h: h, id: id, spec: &specs.Spec{}}
	_ = json.Unmarshal(data, c.spec)
	io := runtime.IO{Terminal: tty, ConsoleWidth: 80, ConsoleHeight: 24}
	if !tty {
		var outW, errW *os.File
		c.outR, outW, _ = os.Pipe()
		c.errR, errW, _ = os.Pipe()
		io.Stdout, io.Stderr = outW, errW
		defer outW.Close()
		defer errW.Close()
	}
	p, err := h.rt.Create(context.Background(), id, bundle, io)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	c.proc = p
	t.Cleanup(func() {
		_ = h.rt.Delete(context.Background(), id, true)
		if c.code == nil {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(p.Pid, &ws, unix.WNOHANG, nil)
		}
		for _, f := range []*os.File{c.outR, c.errR, p.Console} {
			if f != nil {
				f.Close()
			}
		}
	})
	return c
}

func (c *ctr) start(t *testing.T) {
	t.Helper()
	if err := c.h.rt.Start(context.Background(), c.id); err != nil {
		t.Fatalf("start: %v", err)
	}
}

func (c *ctr) wait(t *testing.T) int {
	t.Helper()
	code := waitPid(t, c.proc.Pid)
	c.code = &code
	if err := c.h.rt.Delete(context.Background(), c.id, false); err != nil {
		t.Fatalf("delete after exit: %v", err)
	}
	return code
}

func (c *ctr) stdout(t *testing.T) string { return readAll(t, c.outR) }
func (c *ctr) stderr(t *testing.T) string { return readAll(t, c.errR) }

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	_ = f.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read output: %v", err)
	}
	return string(data)
}

func waitPid(t *testing.T, pid int) int {
	t.Helper()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait4 %d: %v", pid, err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
