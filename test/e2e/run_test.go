package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun covers drover run in the foreground: output, exit codes, configuration and
// the security defaults, on one daemon.
func TestRun(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")

	t.Run("output and exit code", func(t *testing.T) {
		e := e.with(t)
		out, _, code := e.drover("run", "--rm", "busybox", "echo", "hello")
		if code != 0 || out != "hello\n" {
			t.Fatalf("got %q exit %d", out, code)
		}
		_, _, code = e.drover("run", "--rm", "busybox", "sh", "-c", "exit 3")
		if code != 3 {
			t.Fatalf("exit = %d, want 3", code)
		}
		_, errOut, code := e.drover("run", "--rm", "busybox", "sh", "-c", "echo oops >&2; sh -c 'kill -9 $$'; exit $?")
		if code != 137 || !strings.Contains(errOut, "oops") {
			t.Fatalf("exit = %d stderr %q, want 137 and oops", code, errOut)
		}
	})

	t.Run("drover errors", func(t *testing.T) {
		e := e.with(t)
		_, errOut, code := e.drover("run", "--rm", "busybox", "nosuchcmd")
		if code != 127 || !strings.Contains(errOut, "executable file not found") {
			t.Fatalf("missing command: exit %d, %q", code, errOut)
		}
		_, errOut, code = e.drover("run", "--rm", "busybox", "/etc/passwd")
		if code != 126 {
			t.Fatalf("non-executable: exit %d, %q", code, errOut)
		}
		_, errOut, code = e.drover("run", "--pull", "never", "--rm", "nosuchimage")
		if code != 125 || !strings.Contains(strings.ToLower(errOut), "no such image") {
			t.Fatalf("unknown image: exit %d, %q", code, errOut)
		}
		_, errOut, code = e.drover("run", "--rm", "127.0.0.1:1/nosuchimage")
		if code != 125 || !strings.Contains(errOut, "Unable to find image") || !strings.Contains(errOut, "unreachable") {
			t.Fatalf("unknown image, no registry: exit %d, %q", code, errOut)
		}
		_, errOut, code = e.drover("run", "--rm", "-v", "/nonexistent-drover:/x", "busybox", "true")
		if code != 125 || !strings.Contains(errOut, "/nonexistent-drover") {
			t.Fatalf("bad bind: exit %d, %q", code, errOut)
		}
		_, errOut, code = e.drover("run", "--rm", "--memory", "1k", "busybox", "true")
		if code != 125 || !strings.Contains(errOut, "memory") {
			t.Fatalf("tiny memory: exit %d, %q", code, errOut)
		}
		_, errOut, code = e.drover("run", "--rm", "--restart", "sometimes", "busybox", "true")
		if code != 125 {
			t.Fatalf("bad restart policy: exit %d, %q", code, errOut)
		}
		e.must("create", "--name", "taken", "busybox", "true")
		_, errOut, code = e.drover("create", "--name", "taken", "busybox", "true")
		if code != 125 || !strings.Contains(errOut, "already in use") {
			t.Fatalf("name conflict: exit %d, %q", code, errOut)
		}
		e.must("rm", "taken")
		// Failed runs leave no containers behind.
		if out := e.must("ps", "-aq"); strings.TrimSpace(out) != "" {
			t.Fatalf("containers left after failed runs: %q", out)
		}
	})

	t.Run("config", func(t *testing.T) {
		e := e.with(t)
		out := e.must("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "--hostname", "box", "-u", "1000:1000",
			"busybox", "sh", "-c", "echo $FOO $(pwd) $(hostname) $(id -u):$(id -g)")
		if strings.TrimSpace(out) != "bar /tmp box 1000:1000" {
			t.Fatalf("got %q", out)
		}
		envFile := filepath.Join(t.TempDir(), "env")
		os.WriteFile(envFile, []byte("# comment\nA=1\nB=two words\n"), 0o644)
		out = e.must("run", "--rm", "--env-file", envFile, "busybox", "sh", "-c", `echo "$A|$B"`)
		if strings.TrimSpace(out) != "1|two words" {
			t.Fatalf("env-file: got %q", out)
		}
		out = e.must("run", "--rm", "--entrypoint", "echo", "busybox", "via", "entrypoint")
		if strings.TrimSpace(out) != "via entrypoint" {
			t.Fatalf("entrypoint: got %q", out)
		}
	})

	t.Run("mounts", func(t *testing.T) {
		e := e.with(t)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "in"), []byte("from host"), 0o644)
		out := e.must("run", "--rm", "-v", dir+":/data", "busybox", "sh", "-c", "cat /data/in; echo out > /data/out")
		if out != "from host" {
			t.Fatalf("bind read: %q", out)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "out")); string(data) != "out\n" {
			t.Fatalf("bind write: %q", data)
		}
		_, _, code := e.drover("run", "--rm", "-v", dir+":/data:ro", "busybox", "touch", "/data/x")
		if code == 0 {
			t.Fatal("write to a read-only bind succeeded")
		}
		_, _, code = e.drover("run", "--rm", "--read-only", "busybox", "touch", "/x")
		if code == 0 {
			t.Fatal("write to a read-only rootfs succeeded")
		}
		out = e.must("run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c", "echo ok > /scratch/f && cat /scratch/f && grep /scratch /proc/mounts")
		if !strings.HasPrefix(out, "ok\n") || !strings.Contains(out, "tmpfs") {
			t.Fatalf("tmpfs: %q", out)
		}
	})

	t.Run("security defaults", func(t *testing.T) {
		e := e.with(t)
		out := e.must("run", "--rm", "busybox", "cat", "/proc/self/status")
		if !strings.Contains(out, "CapEff:\t00000000a80425fb") {
			t.Errorf("default capabilities wrong:\n%s", grep(out, "Cap"))
		}
		if !strings.Contains(out, "Seccomp:\t2") {
			t.Errorf("seccomp filter not active:\n%s", grep(out, "Seccomp"))
		}
		for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
			out := e.must("run", "--rm", "busybox", "sh", "-c", "test -e "+p+" && wc -c < "+p+" || echo 0")
			if strings.TrimSpace(out) != "0" {
				t.Errorf("%s not masked: %q", p, out)
			}
		}
		if _, _, code := e.drover("run", "--rm", "busybox", "sh", "-c", "echo 1 > /proc/sys/kernel/domainname"); code == 0 {
			t.Error("/proc/sys is writable")
		}
		if _, _, code := e.drover("run", "--rm", "busybox", "mount", "-t", "tmpfs", "none", "/tmp"); code == 0 {
			t.Error("mount allowed without privileges")
		}
		// Only the container's own processes are visible: ps shows itself as pid 1.
		out = e.must("run", "--rm", "busybox", "ps", "-o", "pid,comm")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(strings.TrimSpace(lines[1]), "1 ") {
			t.Errorf("container sees other processes:\n%s", out)
		}
		if _, _, code := e.drover("run", "--rm", "busybox", "kill", "-0", "1"); code != 0 {
			t.Error("cannot signal own init")
		}
		out = e.must("run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status")
		if !strings.Contains(out, "0000000000000000") {
			t.Errorf("--cap-drop ALL: %q", out)
		}
		out = e.must("run", "--rm", "--privileged", "busybox", "sh", "-c", "mount -t tmpfs none /tmp && echo mounted")
		if !strings.Contains(out, "mounted") {
			t.Errorf("--privileged cannot mount: %q", out)
		}
		out = e.must("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "Seccomp:", "/proc/self/status")
		if !strings.Contains(out, "0") {
			t.Errorf("seccomp=unconfined: %q", out)
		}
		out = e.must("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
		if !strings.Contains(out, "1") {
			t.Errorf("no-new-privileges: %q", out)
		}
		out = e.must("run", "--rm", "busybox", "ls", "/dev")
		for _, dev := range []string{"null", "zero", "urandom", "pts", "shm"} {
			if !strings.Contains(out, dev) {
				t.Errorf("/dev lacks %s: %q", dev, out)
			}
		}
		if strings.Contains(out, "sda") || strings.Contains(out, "vda") || strings.Contains(out, "mem\n") {
			t.Errorf("/dev exposes host devices: %q", out)
		}
	})

	t.Run("resources", func(t *testing.T) {
		e := e.with(t)
		out := e.must("run", "--rm", "--ulimit", "nofile=512:1024", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
		if strings.Fields(out)[0] != "512" || strings.Fields(out)[1] != "1024" {
			t.Errorf("ulimit: %q", out)
		}
		// The cgroup limits apply: read them from inside via the container's cgroup files.
		id := strings.TrimSpace(e.must("run", "-d", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "--cpu-shares", "512", "busybox", "sleep", "60"))
		defer e.drover("rm", "-f", id)
		check := func(path, want string) {
			data, err := os.ReadFile(path)
			if err != nil || strings.TrimSpace(string(data)) != want {
				t.Errorf("%s = %q (%v), want %s", path, data, err, want)
			}
		}
		check(fmt.Sprintf("/sys/fs/cgroup/memory/%s/%s/memory.limit_in_bytes", e.cgroup, id), "67108864")
		check(fmt.Sprintf("/sys/fs/cgroup/pids/%s/%s/pids.max", e.cgroup, id), "50")
		check(fmt.Sprintf("/sys/fs/cgroup/cpu/%s/%s/cpu.cfs_quota_us", e.cgroup, id), "50000")
		check(fmt.Sprintf("/sys/fs/cgroup/cpu/%s/%s/cpu.shares", e.cgroup, id), "512")
	})

	t.Run("stdin", func(t *testing.T) {
		e := e.with(t)
		out, _, code := e.droverIn([]byte("piped\n"), "run", "--rm", "-i", "busybox", "cat")
		if code != 0 || out != "piped\n" {
			t.Fatalf("got %q exit %d", out, code)
		}
	})

	t.Run("init", func(t *testing.T) {
		e := e.with(t)
		if _, err := os.Stat("/usr/bin/tini-static"); err != nil {
			t.Skip("tini-static not installed")
		}
		out := e.must("run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm")
		if !strings.Contains(out, "1 tini") && !strings.Contains(out, "1 drover-init") && !strings.Contains(out, "1 .drover-init") {
			t.Fatalf("--init: pid 1 is not the init:\n%s", out)
		}
	})
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
