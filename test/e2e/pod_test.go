package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/nsfile"
)

// TestPodNamespacesAsFiles: a pod that does not share a PID namespace holds its network,
// IPC and UTS namespaces as files and runs no process of its own; its containers share
// those namespaces through a pod stop and start and a daemon killed with -9; a pod
// asking for a PID namespace keeps a pause process; a failed start leaves nothing.
func TestPodNamespacesAsFiles(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	podID := strings.TrimSpace(e.must("pod", "create", "--name", "pinned", "--hostname", "podhost"))
	infra := podID[:12] + "-infra"
	if pid := e.inspect(infra, "{{.State.Pid}}"); pid != "0" {
		t.Fatalf("the infra container of a pod without a shared PID namespace has pid %s, want none", pid)
	}
	if st := e.inspect(infra, "{{.State.Status}}"); st != "running" {
		t.Fatalf("infra container status %q, want running", st)
	}
	if got := strings.TrimSpace(e.must("pod", "inspect", "-f", "{{.SharedNamespaces}}", "pinned")); got != "[net ipc uts]" {
		t.Fatalf("pod inspect: shared namespaces %s, want [net ipc uts]", got)
	}
	netns := e.inspect(infra, "{{.NetworkSettings.SandboxKey}}")
	e.must("run", "-d", "--pod", "pinned", "--name", "ma", "busybox", "sleep", "60")
	e.must("run", "-d", "--pod", "pinned", "--name", "mb", "busybox", "sleep", "60")
	// shares checks that ma and mb are in one network, IPC and UTS namespace, the pod's
	// network namespace file, and each in a PID namespace of its own.
	shares := func(when string) {
		t.Helper()
		pa, pb := "/proc/"+e.inspect("ma", "{{.State.Pid}}"), "/proc/"+e.inspect("mb", "{{.State.Pid}}")
		for _, ns := range []string{"net", "ipc", "uts"} {
			if !sameFile(t, pa+"/ns/"+ns, pb+"/ns/"+ns) {
				t.Fatalf("%s: the pod's containers are in different %s namespaces", when, ns)
			}
		}
		if sameFile(t, pa+"/ns/pid", pb+"/ns/pid") {
			t.Fatalf("%s: the pod's containers share a PID namespace, which the pod did not ask for", when)
		}
		if !sameFile(t, pa+"/ns/net", netns) {
			t.Fatalf("%s: the containers are not in the pod's network namespace %s", when, netns)
		}
		if h := strings.TrimSpace(e.must("exec", "mb", "hostname")); h != "podhost" {
			t.Fatalf("%s: hostname %q, want the pod's podhost", when, h)
		}
	}
	shares("after create")
	if _, errOut, code := e.drover("exec", infra, "true"); code == 0 || !strings.Contains(errOut, "runs no process") {
		t.Fatalf("exec in the infra container: exit %d, %q; want a refusal saying it runs no process", code, errOut)
	}

	e.stopDaemon(syscall.SIGKILL)
	// The namespace files of a pod whose record is gone (a crash mid-removal) go at the
	// next start.
	stray := filepath.Join(e.exec, "netns", strings.Repeat("ab", 32)+".pod")
	if err := os.Mkdir(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := nsfile.Create(map[string]string{"uts": filepath.Join(stray, "uts")}, nil); err != nil {
		t.Fatal(err)
	}
	e.startDaemon()
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("the namespace files of a pod without a record after a restart: %v", err)
	}
	if st := e.inspect(infra, "{{.State.Status}}"); st != "running" {
		t.Fatalf("infra container after a daemon restart: %q, want running", st)
	}
	shares("after a daemon restart")

	e.must("pod", "stop", "-t", "1", "pinned")
	if _, err := os.Stat(netns); !os.IsNotExist(err) {
		t.Fatalf("the network namespace file %s after pod stop: %v", netns, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.exec, "netns")); len(entries) > 0 {
		t.Fatalf("namespace files left after pod stop: %v", entries)
	}
	e.must("pod", "start", "pinned")
	netns = e.inspect(infra, "{{.NetworkSettings.SandboxKey}}")
	shares("after pod stop and start")
	e.must("pod", "rm", "-f", "pinned")

	// A pod sharing its PID namespace keeps a pause process, its PID 1.
	e.must("pod", "create", "--name", "withpid", "--share", "net,ipc,uts,pid")
	if got := strings.TrimSpace(e.must("pod", "inspect", "-f", "{{.SharedNamespaces}}", "withpid")); got != "[net ipc uts pid]" {
		t.Fatalf("pod inspect: shared namespaces %s, want [net ipc uts pid]", got)
	}
	withPID := strings.TrimSpace(e.must("pod", "inspect", "-f", "{{.InfraContainerId}}", "withpid"))
	if pid := e.inspect(withPID, "{{.State.Pid}}"); pid == "0" {
		t.Fatal("the infra container of a pod sharing its PID namespace runs no process")
	}
	e.must("pod", "rm", "-f", "withpid")
	if _, errOut, code := e.drover("pod", "create", "--share", "pid"); code != 125 || !strings.Contains(errOut, "always share the net, ipc and uts") {
		t.Fatalf("--share pid alone: exit %d, %q", code, errOut)
	}

	// Sysctls are set in the pod's namespaces; one that is not namespaced is refused and
	// the pod leaves nothing behind.
	cl := client.New(e.sock)
	ctx := context.Background()
	if _, err := cl.PodCreate(ctx, api.PodCreate{Name: "tuned", Sysctls: map[string]string{"net.core.somaxconn": "77", "kernel.shmmni": "1234"}}); err != nil {
		t.Fatalf("create a pod with sysctls: %v", err)
	}
	got := e.must("run", "--rm", "--pod", "tuned", "busybox", "cat", "/proc/sys/net/core/somaxconn", "/proc/sys/kernel/shmmni")
	if strings.Fields(got)[0] != "77" || strings.Fields(got)[1] != "1234" {
		t.Fatalf("sysctls in the pod: %q, want 77 and 1234", got)
	}
	e.must("pod", "rm", "-f", "tuned")
	if _, err := cl.PodCreate(ctx, api.PodCreate{Name: "bad", Sysctls: map[string]string{"kernel.pid_max": "100"}}); err == nil || !strings.Contains(err.Error(), "not namespaced") {
		t.Fatalf("a pod with a host sysctl: %v; want a refusal", err)
	}
	if out := strings.TrimSpace(e.must("pod", "ls", "-q")); out != "" {
		t.Fatalf("pods after a failed create: %q", out)
	}
	if out := strings.TrimSpace(e.must("ps", "-aq")); out != "" {
		t.Fatalf("containers after a failed pod create: %q", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.exec, "netns")); len(entries) > 0 {
		t.Fatalf("namespace files after a failed pod create: %v", entries)
	}
}
