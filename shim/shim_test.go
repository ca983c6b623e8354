package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/stream"
	"github.com/drover/drover/internal/testutil"
	"github.com/drover/drover/runtime/libcontainer"
	"github.com/drover/drover/runtime/spec"
)

// The test binary is re-executed as the containers' init.
func init() { libcontainer.Init() }

// startShim serves a container running args in-process and returns a client for it; opts
// change its Config.
func startShim(t *testing.T, args []string, tty, stdin bool, opts ...func(*Config)) (*Client, chan error) {
	t.Helper()
	testutil.RequiresRoot(t)
	dir, err := os.MkdirTemp("/tmp", "shimtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	id := filepath.Base(dir)
	cgroupParent := "drover-shimtest"
	t.Cleanup(func() {
		leftovers, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent + "/" + id)
		if len(leftovers) > 0 {
			t.Errorf("cgroups left: %v", leftovers)
		}
		parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent)
		for _, p := range parents {
			os.Remove(p)
		}
	})
	s, err := spec.Generate(spec.Options{ID: id, Rootfs: testutil.BusyboxRootfs(t), ReadonlyRootfs: true, Args: args,
		Terminal: tty, CgroupsPath: "/" + cgroupParent + "/" + id})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(s)
	os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600)
	cfg := Config{ID: id, Bundle: dir, RuntimeRoot: filepath.Join(dir, "rt"), LogPath: filepath.Join(dir, "log.json"),
		Terminal: tty, OpenStdin: stdin, Width: 80, Height: 24}
	for _, o := range opts {
		o(&cfg)
	}
	r, w, _ := os.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(cfg, libcontainer.New(cfg.RuntimeRoot), w) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if err != nil || !strings.HasPrefix(line, "ok ") {
		t.Fatalf("shim sync: %q %v", line, err)
	}
	return &Client{Bundle: dir}, done
}

func TestAttachStdinAndExit(t *testing.T) {
	c, done := startShim(t, []string{"sh", "-c", "read x; echo got $x; echo err >&2; exit 5"}, false, true)
	ctx := context.Background()
	conn, err := c.Dial(ctx, Request{Op: OpAttach, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := c.Call(ctx, Request{Op: OpStart}); err != nil {
		t.Fatal(err)
	}
	w := stream.NewWriter(conn)
	w.WriteFrame(stream.Stdin, []byte("hello\n"))
	w.WriteFrame(stream.CloseStdin, nil)
	var out, errOut strings.Builder
	code := -1
	r := stream.NewReader(conn)
	for code < 0 {
		k, p, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch k {
		case stream.Stdout:
			out.Write(p)
		case stream.Stderr:
			errOut.Write(p)
		case stream.Exit:
			code, _ = stream.ParseExit(p)
		}
	}
	if code != 5 || out.String() != "got hello\n" || errOut.String() != "err\n" {
		t.Fatalf("code %d out %q err %q", code, out.String(), errOut.String())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	saved, err := ReadExit(c.Bundle)
	if err != nil || saved.Code != 5 {
		t.Fatalf("exit file: %+v %v", saved, err)
	}
	logData, _ := os.ReadFile(filepath.Join(c.Bundle, "log.json"))
	if !strings.Contains(string(logData), `"log":"got hello\n","stream":"stdout"`) || !strings.Contains(string(logData), `"stream":"stderr"`) {
		t.Fatalf("log: %s", logData)
	}
}

func TestExecAndTerminal(t *testing.T) {
	c, done := startShim(t, []string{"sleep", "100"}, true, true)
	ctx := context.Background()
	if _, err := c.Call(ctx, Request{Op: OpStart}); err != nil {
		t.Fatal(err)
	}
	s := readSpec(t, c.Bundle)
	p := *s.Process
	p.Args = []string{"sh", "-c", "echo exec out; exit 9"}
	p.Terminal = false
	conn, err := c.Dial(ctx, Request{Op: OpExec, Process: &p})
	if err != nil {
		t.Fatal(err)
	}
	out, code := drain(t, conn)
	if code != 9 || out != "exec out\n" {
		t.Fatalf("exec: %q %d", out, code)
	}
	// A terminal exec with a size.
	p.Args = []string{"stty", "size"}
	p.Terminal = true
	conn, err = c.Dial(ctx, Request{Op: OpExec, Process: &p, Terminal: true, Width: 100, Height: 30})
	if err != nil {
		t.Fatal(err)
	}
	out, code = drain(t, conn)
	if code != 0 || !strings.Contains(out, "30 100") {
		t.Fatalf("tty exec: %q %d", out, code)
	}
	if _, err := c.Call(ctx, Request{Op: OpResize, Width: 120, Height: 40}); err != nil {
		t.Fatalf("resize: %v", err)
	}
	rt := libcontainer.New(filepath.Join(c.Bundle, "rt"))
	id := filepath.Base(c.Bundle)
	waitDone := make(chan struct{})
	var st *ExitStatus
	go func() { st, err = c.Wait(ctx); close(waitDone) }()
	time.Sleep(100 * time.Millisecond) // let the wait request reach the shim
	if err := rt.Kill(ctx, id, 9, false); err != nil {
		t.Fatal(err)
	}
	<-waitDone
	if err != nil || st.Code != 137 {
		t.Fatalf("wait: %+v %v", st, err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shim did not return after the exit")
	}
}

func readSpec(t *testing.T, bundle string) *specs.Spec {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func drain(t *testing.T, conn *Conn) (string, int) {
	t.Helper()
	defer conn.Close()
	r := stream.NewReader(conn)
	var out strings.Builder
	for {
		k, p, err := r.ReadFrame()
		if err != nil {
			t.Fatal(fmt.Errorf("read: %w (so far %q)", err, out.String()))
		}
		switch k {
		case stream.Stdout, stream.Stderr:
			out.Write(p)
		case stream.Exit:
			code, _ := stream.ParseExit(p)
			return out.String(), code
		}
	}
}
