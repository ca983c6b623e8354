package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/internal/testutil"
)

// TestCRICNI: with a CNI configuration (bridge, host-local, portmap, loopback) a sandbox's
// network is made by the plugins: the pod's address comes from host-local, a web server in
// the pod answers on it and on the mapped host port, the address survives a daemon
// restart, and stopping the sandbox, or its infra process dying while the daemon is down,
// leaves no veth, address or portmap rule.
func TestCRICNI(t *testing.T) {
	tn := testutil.NewCNINetwork(t)
	var sandboxes []string
	// Registered before the env: runs after its teardown, which removes every pod.
	t.Cleanup(func() {
		for _, id := range append(sandboxes, "") {
			if left := tn.Leftovers(id); len(left) > 0 {
				t.Errorf("CNI state left behind:\n  %s", strings.Join(left, "\n  "))
			}
		}
	})
	args := []string{"--cni-conf-dir", tn.ConfDir, "--cni-bin-dir", testutil.CNIPluginDir}
	e := newEnv(t, args...)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	st, err := rt.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil || !st.Status.Conditions[1].Status || st.Status.Conditions[1].Type != runtimeapi.NetworkReady {
		t.Fatalf("Status: %v %+v", err, st)
	}
	hostPort := testutil.FreePort(t)
	run := func(name string) string {
		t.Helper()
		r, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name},
			// The second is how a kubelet lists a container port it publishes nowhere.
			PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: int32(hostPort)}, {ContainerPort: 81}},
		}})
		if err != nil {
			t.Fatalf("RunPodSandbox %s: %v", name, err)
		}
		sandboxes = append(sandboxes, r.PodSandboxId)
		return r.PodSandboxId
	}
	podIP := func(id string) string {
		t.Helper()
		st, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
		if err != nil {
			t.Fatal(err)
		}
		return st.Status.Network.Ip
	}

	web := run("web")
	ip := podIP(web)
	if a, err := netip.ParseAddr(ip); err != nil || !tn.Subnet.Contains(a) {
		t.Fatalf("sandbox IP %q is not from the CNI network's %s", ip, tn.Subnet)
	}
	// The infra process holds the namespace the plugins set up: /proc/<pid>/ns/net is it.
	infraPid := strings.TrimSpace(e.must("inspect", "-f", "{{.State.Pid}}", web[:12]+"-infra"))
	nsFile := strings.TrimSpace(e.must("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", web[:12]+"-infra"))
	if !sameFile(t, "/proc/"+infraPid+"/ns/net", nsFile) {
		t.Fatalf("the infra process is not in the namespace %s", nsFile)
	}

	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: web, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "httpd"},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  []string{"sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"},
	}})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	get := func(addr string) string {
		cl := http.Client{Timeout: 2 * time.Second}
		resp, err := cl.Get("http://" + addr + "/")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	e.eventually(20*time.Second, "httpd to answer on the pod's address", func() bool { return get(ip+":80") == "hi\n" })
	// The mapped port, at the host's address on the CNI bridge and on loopback.
	for _, host := range []string{tn.Subnet.Addr().Next().String(), "127.0.0.1"} {
		if got := get(fmt.Sprintf("%s:%d", host, hostPort)); got != "hi\n" {
			t.Fatalf("through the mapped host port %s:%d: %q", host, hostPort, got)
		}
	}

	// The address is the pod's record: a restarted daemon reports the same.
	e.stopDaemon(syscall.SIGKILL)
	e.startDaemon(args...)
	if again := podIP(web); again != ip {
		t.Fatalf("sandbox IP after a daemon restart: %q, want %q", again, ip)
	}
	if got := get(ip + ":80"); got != "hi\n" {
		t.Fatalf("httpd after a daemon restart: %q", got)
	}

	// Stopping the sandbox deletes its attachment: no veth, address, rule or namespace.
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: web}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if left := tn.Leftovers(web); len(left) > 0 {
		t.Fatalf("left after StopPodSandbox: %v", left)
	}
	if _, err := os.Stat(nsFile); !os.IsNotExist(err) {
		t.Fatalf("namespace file %s after StopPodSandbox: %v", nsFile, err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: web}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}

	// The infra process of a sandbox dies while the daemon is down: the next daemon
	// deletes its attachment.
	gone := run("gone")
	if left := tn.Leftovers(gone); len(left) == 0 {
		t.Fatal("a running sandbox has no veth, address or rule")
	}
	pid := strings.TrimSpace(e.must("inspect", "-f", "{{.State.Pid}}", gone[:12]+"-infra"))
	e.stopDaemon(syscall.SIGKILL)
	if n, err := strconv.Atoi(pid); err != nil || syscall.Kill(n, syscall.SIGKILL) != nil {
		t.Fatalf("kill the infra process %q: %v", pid, err)
	}
	e.startDaemon(args...)
	e.eventually(20*time.Second, "the dead sandbox's attachment to be deleted", func() bool { return len(tn.Leftovers(gone)) == 0 })
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: gone}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.root, "cni", "attachments")); len(entries) > 0 {
		t.Fatalf("attachment records left: %v", entries)
	}
}

// TestCRICNICrash: the daemon is killed while the plugins are adding a sandbox (after
// the bridge, host-local and portmap plugins did their part); the next daemon deletes
// what they made, though the configuration is gone by then.
func TestCRICNICrash(t *testing.T) {
	tn := testutil.NewCNINetwork(t)
	var attached []string
	t.Cleanup(func() {
		for _, id := range append(attached, "") {
			if left := tn.Leftovers(id); len(left) > 0 {
				t.Errorf("CNI state left behind:\n  %s", strings.Join(left, "\n  "))
			}
		}
	})
	// A plugin that hangs in ADD, last in a configuration that sorts first.
	bin, marker := t.TempDir(), filepath.Join(t.TempDir(), "adding")
	script := "#!/bin/sh\ncase \"$CNI_COMMAND\" in\nADD) echo $$ > " + marker + "; exec sleep 60;;\n" +
		"VERSION) echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"1.0.0\"]}';;\nesac\n"
	if err := os.WriteFile(filepath.Join(bin, "hang"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	data, _ := os.ReadFile(filepath.Join(tn.ConfDir, "10-test.conflist"))
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	conf["plugins"] = append(conf["plugins"].([]any), map[string]any{"type": "hang"})
	data, _ = json.Marshal(conf)
	hangConf := filepath.Join(tn.ConfDir, "05-hang.conflist")
	if err := os.WriteFile(hangConf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--cni-conf-dir", tn.ConfDir, "--cni-bin-dir", testutil.CNIPluginDir + ":" + bin}
	e := newEnv(t, args...)
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "crash", Namespace: "default", Uid: "uid-crash"},
		PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: int32(testutil.FreePort(t))}},
	}})
	var pid int
	e.eventually(30*time.Second, "the hanging plugin to start", func() bool {
		b, _ := os.ReadFile(marker)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	e.stopDaemon(syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	records, _ := os.ReadDir(filepath.Join(e.root, "cni", "attachments"))
	for _, r := range records {
		attached = append(attached, strings.TrimSuffix(r.Name(), ".json"))
	}
	if len(attached) != 1 || len(tn.Leftovers(attached[0])) < 3 {
		t.Fatalf("while adding: records %v, plugin state %v", attached, tn.Leftovers(""))
	}
	if err := os.Remove(hangConf); err != nil {
		t.Fatal(err)
	}
	e.startDaemon(args...)
	e.eventually(20*time.Second, "the half-added sandbox's attachment to be deleted", func() bool { return len(tn.Leftovers(attached[0])) == 0 })
	if entries, _ := os.ReadDir(filepath.Join(e.root, "cni", "attachments")); len(entries) > 0 {
		t.Fatalf("attachment records left: %v", entries)
	}
}

// sameFile tells whether two paths name the same namespace (device and inode).
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
