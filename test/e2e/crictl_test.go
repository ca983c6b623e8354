package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// TestCrictl drives a pod's whole life with crictl, as a node's operator would: pull,
// images, runp, pods, create, start, ps, logs, inspect, inspectp, stats, statsp, exec,
// stop, stopp, rmp, rmi; and its errors for what does not exist.
func TestCrictl(t *testing.T) {
	bin := crictl(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	e := newEnv(t)
	e.importBusybox("busybox")
	ref := reg.Addr + "/e2e/crictl-busybox:1"
	e.must("tag", "busybox", ref)
	e.must("push", ref)
	e.must("rmi", ref, "busybox")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	crictl := func(args ...string) string {
		t.Helper()
		out, err := e.crictlCmd(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	fails := func(want string, args ...string) {
		t.Helper()
		out, err := e.crictlCmd(ctx, bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("crictl %s: want a failure saying %q, got %v\n%s", strings.Join(args, " "), want, err, out)
		}
	}

	crictl("pull", ref)
	if out := crictl("images"); !strings.Contains(out, reg.Addr+"/e2e/crictl-busybox") {
		t.Fatalf("crictl images: %s", out)
	}
	fails("not found", "pull", reg.Addr+"/e2e/nosuch:1")

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	writeJSON := func(name string, v any) string {
		p := filepath.Join(dir, name)
		data, _ := json.Marshal(v)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pod := writeJSON("pod.json", map[string]any{
		"metadata":      map[string]any{"name": "web", "namespace": "default", "uid": "crictl-uid"},
		"log_directory": logs, "hostname": "webpod",
	})
	ctr := writeJSON("ctr.json", map[string]any{
		"metadata": map[string]any{"name": "app"}, "image": map[string]any{"image": ref},
		"command": []string{"sh", "-c", "echo started; while :; do sleep 1; done"}, "log_path": "app/0.log",
	})
	podID := crictl("runp", pod)
	if out := crictl("pods", "--name", "web"); !strings.Contains(out, podID[:13]) || !strings.Contains(out, "Ready") {
		t.Fatalf("crictl pods: %s", out)
	}
	ctrID := crictl("create", podID, ctr, pod)
	crictl("start", ctrID)
	if out := crictl("ps", "--pod", podID); !strings.Contains(out, ctrID[:13]) || !strings.Contains(out, "Running") {
		t.Fatalf("crictl ps: %s", out)
	}
	e.eventually(20*time.Second, "the container's first log line", func() bool {
		out, _ := e.crictlCmd(ctx, bin, "logs", ctrID).CombinedOutput()
		return strings.Contains(string(out), "started")
	})
	if out := crictl("exec", ctrID, "hostname"); out != "webpod" {
		t.Errorf("crictl exec hostname: %q", out)
	}
	var inspect struct {
		Status struct {
			State   string `json:"state"`
			LogPath string `json:"logPath"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(crictl("inspect", ctrID)), &inspect); err != nil || inspect.Status.State != "CONTAINER_RUNNING" ||
		inspect.Status.LogPath != filepath.Join(logs, "app/0.log") {
		t.Errorf("crictl inspect: %v %+v", err, inspect)
	}
	var inspectp struct {
		Status struct {
			State   string `json:"state"`
			Network struct {
				IP string `json:"ip"`
			} `json:"network"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(crictl("inspectp", podID)), &inspectp); err != nil || inspectp.Status.State != "SANDBOX_READY" || inspectp.Status.Network.IP == "" {
		t.Errorf("crictl inspectp: %v %+v", err, inspectp)
	}
	if out := crictl("stats", "--id", ctrID); !strings.Contains(out, ctrID[:13]) {
		t.Errorf("crictl stats: %s", out)
	}
	if out := crictl("statsp", "--id", podID); !strings.Contains(out, "web") {
		t.Errorf("crictl statsp: %s", out)
	}
	fails("not found", "inspect", "nosuchcontainer")
	fails("not found", "inspectp", "nosuchpod")

	crictl("stop", ctrID)
	if out := crictl("ps", "-a", "--id", ctrID); !strings.Contains(out, "Exited") {
		t.Errorf("crictl ps -a after stop: %s", out)
	}
	crictl("stopp", podID)
	if out := crictl("pods", "--id", podID); !strings.Contains(out, "NotReady") {
		t.Errorf("crictl pods after stopp: %s", out)
	}
	crictl("rmp", podID)
	if out := crictl("pods", "-q"); out != "" {
		t.Errorf("crictl pods after rmp: %q", out)
	}
	crictl("rmi", ref)
	if out := crictl("images", "-q"); out != "" {
		t.Errorf("crictl images after rmi: %q", out)
	}
}
