package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/internal/testutil"
)

// criSandbox runs a CRI sandbox named name with busybox containers, one per command
// given, started; it returns the sandbox and container IDs.
func criSandbox(t *testing.T, rt runtimeapi.RuntimeServiceClient, name string, containers ...*runtimeapi.ContainerConfig) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name}}})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	var ids []string
	for _, cfg := range containers {
		cfg.Image = &runtimeapi.ImageSpec{Image: "busybox"}
		c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: cfg})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", cfg.Metadata.GetName(), err)
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatalf("StartContainer %s: %v", cfg.Metadata.GetName(), err)
		}
		ids = append(ids, c.ContainerId)
	}
	return sb.PodSandboxId, ids
}

// TestCRIExecSync: ExecSync returns a command's output and exit code, kills a command
// that outlives its timeout (DeadlineExceeded, and the process is gone), bounds the
// output it keeps, and refuses bad requests with the codes containerd gives.
func TestCRIExecSync(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, ids := criSandbox(t, rt, "execsync",
		&runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Command: []string{"sleep", "1000"}},
		&runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "done"}, Command: []string{"true"}})
	app := ids[0]
	run := func(timeout int64, cmd ...string) (*runtimeapi.ExecSyncResponse, error) {
		return rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: app, Cmd: cmd, Timeout: timeout})
	}

	r, err := run(0, "sh", "-c", "echo out; echo err >&2; exit 3")
	if err != nil || string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.ExitCode != 3 {
		t.Fatalf("ExecSync: %v %+v", err, r)
	}
	r, err = run(0, "no-such-command")
	if err != nil || r.ExitCode != 127 || !strings.Contains(string(r.Stderr), "no-such-command") {
		t.Fatalf("ExecSync of a missing command: %v %+v", err, r)
	}

	start := time.Now()
	_, err = run(1, "sleep", "37")
	if err == nil || !strings.Contains(err.Error(), "DeadlineExceeded") || !strings.Contains(err.Error(), "1s") {
		t.Fatalf("ExecSync past its timeout: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("ExecSync with a 1s timeout took %v", took)
	}
	r, err = run(10, "ps", "-o", "args")
	if err != nil || strings.Contains(string(r.Stdout), "sleep 37") || !strings.Contains(string(r.Stdout), "sleep 1000") {
		t.Fatalf("the timed-out process must be gone: %v %q", err, r.GetStdout())
	}

	// Output beyond what fits the kubelet's 16 MiB message is dropped, not buffered.
	r, err = rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: app, Cmd: []string{"sh", "-c", "echo head >&2; head -c 20000000 /dev/zero"}},
		grpc.MaxCallRecvMsgSize(16<<20))
	if err != nil || len(r.Stdout) < 15<<20 || len(r.Stdout)+len(r.Stderr) > 16<<20 || string(r.Stderr) != "head\n" || r.ExitCode != 0 {
		t.Fatalf("large output: %v stdout %d bytes, stderr %q", err, len(r.GetStdout()), r.GetStderr())
	}

	e.eventually(20*time.Second, "the short container to exit", func() bool {
		st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ids[1]})
		return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	for _, tc := range []struct {
		id   string
		cmd  []string
		code string
	}{
		{"nosuch", []string{"true"}, "NotFound"},
		{ids[1], []string{"true"}, "FailedPrecondition"},
		{app, nil, "InvalidArgument"},
	} {
		if _, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: tc.id, Cmd: tc.cmd}); err == nil || !strings.Contains(err.Error(), tc.code) {
			t.Errorf("ExecSync %s %q: %v, want %s", tc.id, tc.cmd, err, tc.code)
		}
		if _, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: tc.id, Cmd: tc.cmd, Stdout: true}); err == nil || !strings.Contains(err.Error(), tc.code) {
			t.Errorf("Exec %s %q: %v, want %s", tc.id, tc.cmd, err, tc.code)
		}
	}
	if _, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: app, Cmd: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Errorf("Exec with no stream: %v", err)
	}
	if _, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "nosuch"}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("PortForward to an unknown sandbox: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb}); err != nil {
		t.Fatal(err)
	}
}

// crictl returns the crictl binary of cri-tools (see criTool).
func crictl(t *testing.T) string { return criTool(t, "crictl") }

// crictlCmd is a crictl command against e's CRI socket, with a config file of its own
// (crictl insists on one).
func (e *env) crictlCmd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	ep := "unix://" + filepath.Join(e.exec, "cri.sock")
	conf := filepath.Join(e.dir, "crictl.yaml")
	if err := os.WriteFile(conf, []byte("runtime-endpoint: "+ep+"\nimage-endpoint: "+ep+"\ntimeout: 30\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return exec.CommandContext(ctx, bin, append([]string{"--config", conf}, args...)...)
}

// TestCRIStreaming drives Exec, Attach and PortForward through crictl, which speaks the
// kubelet's SPDY protocol to the streaming server the CRI's URLs point to.
func TestCRIStreaming(t *testing.T) {
	bin := crictl(t)
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, ids := criSandbox(t, rt, "stream",
		&runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "web"}, Command: []string{"sh", "-c",
			"mkdir -p /www && echo served from the pod > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"}},
		&runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "cat"}, Command: []string{"cat"}, Stdin: true, StdinOnce: true})
	web, cat := ids[0], ids[1]

	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := e.crictlCmd(ctx, bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("crictl %v: %v", args, err)
		}
		return out.String(), errOut.String(), code
	}

	t.Run("exec", func(t *testing.T) {
		out, errOut, code := run("hello through stdin\n", "exec", "-i", web, "sh", "-c", "cat; echo to-stderr >&2")
		if code != 0 || out != "hello through stdin\n" || !strings.Contains(errOut, "to-stderr") {
			t.Fatalf("crictl exec -i: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		out, errOut, code = run("", "exec", web, "sh", "-c", "exit 7")
		if code == 0 || !strings.Contains(errOut, "command terminated with exit code 7") {
			t.Fatalf("crictl exec of a failing command: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		out, errOut, code = run("", "exec", "--sync", web, "echo", "synced")
		if code != 0 || !strings.Contains(out, "synced") {
			t.Fatalf("crictl exec --sync: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("exec-tty", func(t *testing.T) {
		// On a real terminal: the process gets one of the client's size, and follows
		// a resize.
		master, slave := openPTY(t)
		defer master.Close()
		setSize := func(rows, cols uint16) {
			if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
				t.Fatal(err)
			}
		}
		setSize(33, 111)
		cmd := e.crictlCmd(ctx, bin, "exec", "-it", web, "sh")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		var out syncBuffer
		go io.Copy(&out, master)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		e.with(t).eventually(20*time.Second, "the terminal's size in the exec", func() bool {
			_, _ = master.Write([]byte("stty size\n"))
			time.Sleep(200 * time.Millisecond)
			return strings.Contains(out.String(), "33 111")
		})
		setSize(40, 120)
		_ = cmd.Process.Signal(syscall.SIGWINCH)
		e.with(t).eventually(20*time.Second, "the resized terminal in the exec", func() bool {
			_, _ = master.Write([]byte("stty size\n"))
			time.Sleep(200 * time.Millisecond)
			return strings.Contains(out.String(), "40 120")
		})
		_, _ = master.Write([]byte("exit 4\n"))
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("crictl exec -it of a shell that exits 4: %v\n%s", err, out.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("crictl exec -it did not end with the shell\n%s", out.String())
		}
	})

	t.Run("attach", func(t *testing.T) {
		out, errOut, code := run("a line for cat\n", "attach", "-i", cat)
		if code != 0 || out != "a line for cat\n" {
			t.Fatalf("crictl attach -i: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		// stdin_once: the end of the attached input ended cat.
		e.with(t).eventually(20*time.Second, "cat to exit at the end of its input", func() bool {
			st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cat})
			return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED
		})
	})

	t.Run("port-forward", func(t *testing.T) {
		port := testutil.FreePort(t)
		pf := e.crictlCmd(ctx, bin, "port-forward", sb, fmt.Sprintf("%d:8080", port))
		var pfOut syncBuffer
		pf.Stdout, pf.Stderr = &pfOut, &pfOut
		if err := pf.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
		var body string
		e.with(t).eventually(20*time.Second, "the page through the port forward", func() bool {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/index.html")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == http.StatusOK
		})
		if body != "served from the pod\n" {
			t.Fatalf("port forward: body %q\ncrictl: %s", body, pfOut.String())
		}
	})

	t.Run("port-forward-nothing-listens", func(t *testing.T) {
		port := testutil.FreePort(t)
		pf := e.crictlCmd(ctx, bin, "port-forward", sb, fmt.Sprintf("%d:9", port))
		var pfOut syncBuffer
		pf.Stdout, pf.Stderr = &pfOut, &pfOut
		if err := pf.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
		e.with(t).eventually(20*time.Second, "the forward to answer with its error", func() bool {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
			if err == nil {
				resp.Body.Close()
			}
			return strings.Contains(pfOut.String(), "nothing listens on port 9")
		})
	})
}
