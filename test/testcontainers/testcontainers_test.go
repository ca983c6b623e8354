// Package testcontainers runs testcontainers-go, a real Docker SDK client no one here
// wrote, against drover's Docker API. It is a module of its own so that testcontainers'
// dependencies (the Docker client, OpenTelemetry...) stay out of drover's go.mod.
package testcontainers

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tc "github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/drover/drover/internal/testutil"
)

// startDrover starts a daemon with its own state (as test/e2e does) and returns its
// Docker API socket and a function running drover's CLI against it.
func startDrover(t *testing.T) (dockerSock string, drover func(args ...string) string) {
	t.Helper()
	testutil.RequiresRoot(t)
	bin := os.Getenv("DROVER_BIN")
	if bin == "" {
		t.Skip("set DROVER_BIN to a built drover (make test does)")
	}
	dir, err := os.MkdirTemp("/tmp", "dvtc")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "drover.sock")
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cgroupParent := "drover-tc-" + filepath.Base(dir)
	netPrefix := "tc" + strings.ToLower(filepath.Base(dir)[len(filepath.Base(dir))-6:])
	d := exec.Command(bin, "daemon", "--root", filepath.Join(dir, "lib"), "--exec-root", filepath.Join(dir, "run"),
		"--cgroup-parent", cgroupParent, "--network-prefix", netPrefix, "--resolv-conf", resolv)
	d.Stdout, d.Stderr = &log, &log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	drover = func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DROVER_HOST="+sock)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("drover %s: %v\n%s\ndaemon log:\n%s", strings.Join(args, " "), err, out, log.String())
		}
		return string(out)
	}
	t.Cleanup(func() {
		_ = d.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.Process.Kill()
			<-done
		}
		// What a daemon keeps by design (its default bridge, its firewall table, the
		// namespace directory's mount, its cgroup parents) goes with the test.
		_ = exec.Command("ip", "link", "del", netPrefix+"0").Run()
		_ = exec.Command("nft", "delete", "table", "inet", netPrefix).Run()
		_ = syscall.Unmount(filepath.Join(dir, "run", "netns"), syscall.MNT_DETACH)
		parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent)
		for _, p := range parents {
			_ = os.Remove(p)
		}
		os.RemoveAll(dir)
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("unix", filepath.Join(dir, "run", "docker.sock")); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not become ready\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return filepath.Join(dir, "run", "docker.sock"), drover
}

func TestTestcontainersGo(t *testing.T) {
	sock, drover := startDrover(t)
	drover("import", testutil.BusyboxTar(t), "busybox")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true") // the reaper is an image from the internet
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{
		ContainerRequest: tc.ContainerRequest{
			Image:        "busybox:latest",
			Cmd:          []string{"sh", "-c", "trap 'exit 0' TERM; echo getting ready; sleep 0.2; echo server ready; nc -ll -p 8080 -e echo pong & wait"},
			ExposedPorts: []string{"8080/tcp"},
			WaitingFor:   wait.ForLog("server ready"),
		},
		Started: true,
	})
	if err != nil {
		t.Fatalf("start container: %v", err)
	}
	terminated := false
	t.Cleanup(func() {
		if !terminated {
			_ = c.Terminate(context.Background())
		}
	})
	if !strings.Contains(drover("ps"), c.GetContainerID()[:12]) {
		t.Fatal("drover ps does not show the testcontainers container")
	}
	host, err := c.Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port, err := c.MappedPort(ctx, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port.Port()), 10*time.Second)
	if err != nil {
		t.Fatalf("mapped port %s:%s: %v", host, port.Port(), err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	reply, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(reply), "pong") {
		t.Fatalf("mapped port answered %q", reply)
	}
	// A second container waited for by its listening port: testcontainers checks it from
	// inside the container with an exec, and from outside through the mapped port.
	c2, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{
		ContainerRequest: tc.ContainerRequest{
			Image:        "busybox:latest",
			Cmd:          []string{"sh", "-c", "trap 'exit 0' TERM; nc -ll -p 9090 -e echo pong2 & wait"},
			ExposedPorts: []string{"9090/tcp"},
			Env:          map[string]string{"GREETING": "hi"},
			Labels:       map[string]string{"suite": "testcontainers"},
			WaitingFor:   wait.ForListeningPort("9090/tcp"),
		},
		Started: true,
	})
	if err != nil {
		t.Fatalf("start the second container: %v", err)
	}
	code, out, err := c2.Exec(ctx, []string{"sh", "-c", "echo $GREETING"})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if data, _ := io.ReadAll(out); !strings.Contains(string(data), "hi") {
		t.Fatalf("exec output %q", data)
	}
	if err := c2.Terminate(ctx); err != nil {
		t.Fatalf("terminate the second container: %v", err)
	}
	if err := c.Terminate(ctx); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	terminated = true
	if out := drover("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("containers left after Terminate: %q", out)
	}
}
