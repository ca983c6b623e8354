package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criRecord is one line of a CRI log, checked field by field.
type criRecord struct {
	stream, tag, text string
}

// readCRILog reads a CRI log as a kubelet does and fails the test on any line that is not
// exactly "TIME STREAM TAG TEXT" with an RFC 3339 time, stdout or stderr, F or P.
func readCRILog(t *testing.T, path string) []criRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: %q", path, data[max(0, len(data)-80):])
	}
	var out []criRecord
	for _, l := range strings.Split(string(data[:len(data)-1]), "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 {
			t.Fatalf("%s: malformed line %q", path, l)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Fatalf("%s: line %q: time: %v", path, l, err)
		}
		if (f[1] != "stdout" && f[1] != "stderr") || (f[2] != "F" && f[2] != "P") {
			t.Fatalf("%s: line %q: stream or tag", path, l)
		}
		out = append(out, criRecord{f[1], f[2], f[3]})
	}
	return out
}

// TestCRILogs: a container's output is written in the CRI format at the sandbox's
// log_directory joined with its log_path, which ContainerStatus reports; long lines and an
// unterminated last line become P records; after the kubelet renames the file,
// ReopenContainerLog moves the writing to a new file; drover logs reads the same log; the
// log directory outlives the containers and the sandbox.
func TestCRILogs(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logDir := filepath.Join(t.TempDir(), "pods", "default_app_uid-l")
	if err := os.MkdirAll(logDir, 0o755); err != nil { // the kubelet makes the sandbox's
		t.Fatal(err)
	}
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "app", Namespace: "default", Uid: "uid-l"}, LogDirectory: logDir}})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name, script string) string {
		t.Helper()
		r, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name},
			Image:    &runtimeapi.ImageSpec{Image: "busybox"},
			Command:  []string{"sh", "-c", script},
			LogPath:  name + "/0.log", // as the kubelet names it; drover makes the subdirectory
		}})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", name, err)
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: r.ContainerId}); err != nil {
			t.Fatalf("StartContainer %s: %v", name, err)
		}
		return r.ContainerId
	}
	status := func(id string) *runtimeapi.ContainerStatus {
		t.Helper()
		st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		return st.Status
	}

	// Lines on both streams, a line longer than a record, and a last line without newline.
	job := create("job", `echo out one; echo err one >&2; head -c 20000 /dev/zero | tr '\0' x; echo; printf 'no newline'`)
	jobLog := filepath.Join(logDir, "job", "0.log")
	e.eventually(20*time.Second, "the job to exit", func() bool { return status(job).State == runtimeapi.ContainerState_CONTAINER_EXITED })
	if p := status(job).LogPath; p != jobLog {
		t.Fatalf("ContainerStatus log_path = %q, want %q", p, jobLog)
	}
	long := strings.Repeat("x", 20000)
	byStream := map[string][]criRecord{}
	for _, r := range readCRILog(t, jobLog) {
		byStream[r.stream] = append(byStream[r.stream], r)
	}
	wantOut := []criRecord{{"stdout", "F", "out one"}, {"stdout", "P", long[:16384]}, {"stdout", "F", long[16384:]}, {"stdout", "P", "no newline"}}
	if len(byStream["stdout"]) != len(wantOut) || len(byStream["stderr"]) != 1 || byStream["stderr"][0] != (criRecord{"stderr", "F", "err one"}) {
		t.Fatalf("records: %.300v", byStream)
	}
	for i, w := range wantOut {
		if byStream["stdout"][i] != w {
			t.Fatalf("stdout record %d = %.80v, want %.80v", i, byStream["stdout"][i], w)
		}
	}
	if fi, err := os.Stat(filepath.Dir(jobLog)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("log subdirectory: %v %v", fi, err)
	}
	// drover's own logs command reads the CRI log too.
	out, errOut, code := e.drover("logs", job)
	if code != 0 || out != "out one\n"+long+"\nno newline" || errOut != "err one\n" {
		t.Fatalf("drover logs: exit %d, stdout %.60q, stderr %q", code, out, errOut)
	}
	if out := e.must("logs", "--tail", "1", job); out != "no newline" {
		t.Fatalf("drover logs --tail 1: %q", out)
	}

	// The kubelet rotates: it renames the file, then asks for a reopen.
	ticker := create("ticker", `i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done`)
	tickLog := filepath.Join(logDir, "ticker", "0.log")
	ticks := func(path string) []int {
		var n []int
		for _, r := range readCRILog(t, path) {
			v, err := strconv.Atoi(strings.TrimPrefix(r.text, "tick "))
			if r.stream != "stdout" || r.tag != "F" || err != nil {
				t.Fatalf("%s: record %+v", path, r)
			}
			n = append(n, v)
		}
		return n
	}
	e.eventually(20*time.Second, "ticks in the log", func() bool { return len(ticks(tickLog)) >= 3 })
	rotated := tickLog + ".20261122-100000"
	if err := os.Rename(tickLog, rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: ticker}); err != nil {
		t.Fatalf("ReopenContainerLog: %v", err)
	}
	e.eventually(20*time.Second, "ticks in the new file", func() bool { return len(ticks(tickLog)) >= 3 })
	before, _ := os.ReadFile(rotated)
	time.Sleep(500 * time.Millisecond) // five ticks' time
	if after, _ := os.ReadFile(rotated); string(after) != string(before) {
		t.Fatalf("the renamed file still grows: %d -> %d bytes", len(before), len(after))
	}
	old, cur := ticks(rotated), ticks(tickLog)
	for i, n := range append(old, cur...) {
		if n != i {
			t.Fatalf("ticks lost or repeated across the reopen: %v then %v", old, cur)
		}
	}

	// Refusals: a stopped container, an unknown one.
	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ticker, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: ticker}); err == nil || !strings.Contains(err.Error(), "FailedPrecondition") {
		t.Fatalf("ReopenContainerLog of a stopped container: %v", err)
	}
	if _, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "nosuch"}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("ReopenContainerLog of an unknown container: %v", err)
	}

	// Removal takes the files drover wrote, never the kubelet's directories.
	for _, id := range []string{job, ticker} {
		if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{logDir, filepath.Dir(jobLog), filepath.Dir(tickLog)} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("log directory %s removed: %v", dir, err)
		}
	}
	if _, err := os.Stat(rotated); err != nil {
		t.Fatalf("the kubelet's rotated file was removed: %v", err)
	}

	// The same log driver from drover's CLI.
	cliLog := filepath.Join(t.TempDir(), "made", "by", "drover.log")
	e.must("run", "--name", "k8slog", "--log-driver", "k8s-file", "--log-opt", "path="+cliLog, "busybox", "echo", "hello")
	if recs := readCRILog(t, cliLog); len(recs) != 1 || recs[0] != (criRecord{"stdout", "F", "hello"}) {
		t.Fatalf("CLI k8s-file log: %+v", recs)
	}
	if got := e.inspect("k8slog", "{{.LogPath}}"); got != cliLog {
		t.Fatalf("inspect LogPath = %q, want %q", got, cliLog)
	}
	if out := e.must("logs", "k8slog"); out != "hello\n" {
		t.Fatalf("drover logs: %q", out)
	}
	if _, errOut, code := e.drover("run", "--name", "twice", "--log-driver", "k8s-file", "--log-opt", "path="+cliLog, "busybox", "true"); code == 0 || !strings.Contains(errOut, "already") {
		t.Fatalf("a second container on the same log path: exit %d, %s", code, errOut)
	}
	if _, errOut, code := e.drover("run", "--log-driver", "k8s-file", "--log-opt", "path=rel/x.log", "busybox", "true"); code == 0 || !strings.Contains(errOut, "absolute path") {
		t.Fatalf("a relative log path: exit %d, %s", code, errOut)
	}
	e.must("rm", "k8slog")
	if _, err := os.Stat(cliLog); !os.IsNotExist(err) {
		t.Fatalf("drover rm left its log file: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(cliLog)); err != nil {
		t.Fatalf("drover rm removed the log's directory: %v", err)
	}
}
