package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCRISecurityContext checks what a sandbox's and a container's security context ask
// for inside the container: masked and read-only paths, supplemental groups, seccomp
// (none when unset, the default profile when asked), a pod-shared PID namespace, and the
// sandbox's sysctls, DNS config and hostname.
func TestCRISecurityContext(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata:  &runtimeapi.PodSandboxMetadata{Name: "sec", Namespace: "default", Uid: "uid-sec"},
		DnsConfig: &runtimeapi.DNSConfig{Servers: []string{"10.9.8.7"}, Searches: []string{"example.test"}, Options: []string{"ndots:3"}},
		Linux: &runtimeapi.LinuxPodSandboxConfig{Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"},
			CgroupParent:    "/" + e.cgroup + "/pod-sec",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, sc *runtimeapi.LinuxContainerSecurityContext) string {
		t.Helper()
		c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
			Command: []string{"sleep", "100"}, Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: sc}}})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", name, err)
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatalf("StartContainer %s: %v", name, err)
		}
		return c.ContainerId
	}
	exec := func(id string, cmd ...string) string {
		t.Helper()
		r, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 20})
		if err != nil {
			t.Fatalf("ExecSync %v: %v", cmd, err)
		}
		return string(r.Stdout) + string(r.Stderr)
	}
	plain := run("plain", &runtimeapi.LinuxContainerSecurityContext{
		MaskedPaths: []string{"/etc/passwd"}, ReadonlyPaths: []string{"/tmp"}, SupplementalGroups: []int64{4321},
		NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}})
	if out := exec(plain, "cat", "/etc/passwd"); out != "" {
		t.Errorf("masked /etc/passwd reads %q", out)
	}
	if out := exec(plain, "sh", "-c", "touch /tmp/x 2>&1; echo rc=$?"); !strings.Contains(out, "Read-only") {
		t.Errorf("read-only /tmp: %q", out)
	}
	if out := exec(plain, "sh", "-c", "grep ^Groups: /proc/self/status"); !strings.Contains(out, "4321") {
		t.Errorf("supplemental groups: %q", out)
	}
	if out := exec(plain, "cat", "/proc/self/cgroup"); !strings.Contains(out, "/"+e.cgroup+"/pod-sec/"+plain) {
		t.Errorf("the sandbox's cgroup parent: %q", out)
	}
	st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: plain})
	if u := st.GetStatus().GetUser().GetLinux(); err != nil || u == nil || u.Uid != 0 || u.Gid != 0 || !slices.Equal(u.SupplementalGroups, []int64{0, 4321}) {
		t.Errorf("ContainerStatus user (merge policy: the primary group and the supplemental one): %v %+v", err, u)
	}
	strict := run("strict", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: &runtimeapi.Int64Value{Value: 1000},
		SupplementalGroups: []int64{77}, SupplementalGroupsPolicy: runtimeapi.SupplementalGroupsPolicy_Strict})
	if out := exec(strict, "id", "-G"); strings.Fields(out)[0] != "1000" || !strings.Contains(out, "77") {
		t.Errorf("strict policy groups: %q", out)
	}
	if out := exec(plain, "sh", "-c", "grep ^Seccomp: /proc/self/status"); !strings.Contains(out, "0") {
		t.Errorf("no seccomp profile asked, want none: %q", out)
	}
	if out := exec(plain, "sh", "-c", "cat /proc/1/cmdline"); !strings.Contains(out, "pause") {
		t.Errorf("pod-shared PID namespace: PID 1 is %q, want the pod's infra process", out)
	}
	if out := exec(plain, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"); out != "1\n1234\n" {
		t.Errorf("sysctls: %q", out)
	}
	if out := exec(plain, "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 10.9.8.7") || !strings.Contains(out, "search example.test") || !strings.Contains(out, "options ndots:3") {
		t.Errorf("resolv.conf: %q", out)
	}
	if host, _ := os.Hostname(); exec(plain, "hostname") != host+"\n" {
		t.Errorf("a sandbox without a hostname has the node's: %q", exec(plain, "hostname"))
	}

	confined := run("confined", &runtimeapi.LinuxContainerSecurityContext{
		Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
		NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}})
	if out := exec(confined, "sh", "-c", "grep ^Seccomp: /proc/self/status"); !strings.Contains(out, "2") {
		t.Errorf("RuntimeDefault seccomp: %q", out)
	}
	if out := exec(confined, "cat", "/proc/1/cmdline"); !strings.HasPrefix(out, "sleep") {
		t.Errorf("own PID namespace: PID 1 is %q", out)
	}

	_, err = rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "bad"}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: &runtimeapi.Int64Value{Value: 5}}}}})
	if err == nil || !strings.Contains(err.Error(), "run_as_group needs run_as_user") {
		t.Errorf("run_as_group alone: %v", err)
	}
	_, err = rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "bad", Namespace: "default", Uid: "uid-bad"},
		Linux:    &runtimeapi.LinuxPodSandboxConfig{Sysctls: map[string]string{"vm.swappiness": "1"}}}})
	if err == nil || !strings.Contains(err.Error(), "vm.swappiness is not namespaced") {
		t.Errorf("a host sysctl: %v", err)
	}
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	// The pod's cgroup is the kubelet's to remove, as here.
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + e.cgroup + "/pod-sec")
	for _, d := range dirs {
		if err := os.Remove(d); err != nil {
			t.Errorf("the pod cgroup %s still has members: %v", d, err)
		}
	}
}

// TestCRIStopRightAfterStart stops containers the moment they started, as the kubelet
// may: the stop signal reaches a process that is still starting, and the container must
// still stop at once rather than at the end of the stop timeout.
func TestCRIStopRightAfterStart(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "stop", Namespace: "default", Uid: "uid-stop"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c%d", i)}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
			Command: []string{"top"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.ContainerId, Timeout: 30}); err != nil {
			t.Fatal(err)
		}
		// Not a timing assertion: a lost signal shows as the whole 30 s timeout.
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("stop %d right after start waited out its timeout (%v): the stop signal was lost", i, d)
		}
		if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
}
