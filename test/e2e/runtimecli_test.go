package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/testutil"
	"github.com/drover/drover/runtime"
)

// TestDroverRuntimeCLI uses the binary as a runc-compatible runtime ("drover-runtime"):
// from drover's own daemon (--runtime PATH) and, when installed, from podman.
func TestDroverRuntimeCLI(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	link := filepath.Join(e.dir, "drover-runtime")
	if err := os.Symlink(runtimeBin(t), link); err != nil {
		t.Fatal(err)
	}
	out, _, code := e.drover("run", "--rm", "--runtime", link, "busybox", "sh", "-c", "echo via drover-runtime; exit 4")
	if code != 4 || out != "via drover-runtime\n" {
		t.Fatalf("daemon with --runtime drover-runtime: %q exit %d", out, code)
	}
}

// rtEnv drives drover-runtime directly on bundles of its own, with a state root and a
// cgroup parent of the test's; its cleanup removes every container and checks that no
// state directory or cgroup is left.
type rtEnv struct {
	t      *testing.T
	bin    string // a link named drover-runtime to runtimeBin
	dir    string
	root   string
	cgroup string
	seq    int
}

func newRtEnv(t *testing.T) *rtEnv {
	t.Helper()
	testutil.RequiresRoot(t)
	dir, err := os.MkdirTemp("/tmp", "dvrt")
	if err != nil {
		t.Fatal(err)
	}
	r := &rtEnv{t: t, dir: dir, root: filepath.Join(dir, "state"), cgroup: "drover-rt-" + filepath.Base(dir)}
	r.bin = filepath.Join(dir, "drover-runtime")
	if err := os.Symlink(runtimeBin(t), r.bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.cleanup)
	return r
}

func (r *rtEnv) cleanup() {
	ids, _, _ := r.rt("list", "-q")
	for _, id := range strings.Fields(ids) {
		r.rt("delete", "--force", id)
	}
	var leaks []string
	if entries, _ := os.ReadDir(r.root); len(entries) > 0 {
		for _, e := range entries {
			leaks = append(leaks, "state "+e.Name())
		}
	}
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/" + r.cgroup + "/*")
	for _, p := range cgs {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			leaks = append(leaks, "cgroup "+p)
		}
	}
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + r.cgroup)
	for _, p := range parents {
		_ = os.Remove(p)
	}
	if len(leaks) > 0 {
		r.t.Errorf("drover-runtime left state behind:\n  %s", strings.Join(leaks, "\n  "))
	}
	_ = os.RemoveAll(r.dir)
}

// bundle writes a bundle running args in the shared busybox rootfs (read-only), with the
// spec `drover-runtime spec` makes, changed by edit.
func (r *rtEnv) bundle(id string, args []string, edit func(*specs.Spec)) string {
	r.t.Helper()
	dir := filepath.Join(r.dir, "b-"+id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if _, errOut, code := r.rt("spec", "--bundle", dir); code != 0 {
		r.t.Fatalf("spec: %s", errOut)
	}
	path := filepath.Join(dir, "config.json")
	var s specs.Spec
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &s) != nil {
		r.t.Fatalf("spec wrote no valid config.json: %v %s", err, data)
	}
	s.Root = &specs.Root{Path: testutil.BusyboxRootfs(r.t), Readonly: true}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Hostname = id
	s.Linux.CgroupsPath = "/" + r.cgroup + "/" + id
	if edit != nil {
		edit(&s)
	}
	data, _ = json.Marshal(&s)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return dir
}

func (r *rtEnv) rt(args ...string) (stdout, stderr string, code int) {
	return r.rtIn(nil, args...)
}

func (r *rtEnv) rtIn(stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
	// Files, not pipes: a container created here inherits them and would hold a pipe open.
	o, err := os.CreateTemp(r.dir, "out")
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := os.CreateTemp(r.dir, "err")
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() {
		o.Close()
		e.Close()
		os.Remove(o.Name())
		os.Remove(e.Name())
	}()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, o, e
	err = cmd.Run()
	outData, _ := os.ReadFile(o.Name())
	errData, _ := os.ReadFile(e.Name())
	stdout, stderr = string(outData), string(errData)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case asExit(err, &ee):
		code = ee.ExitCode()
	default:
		r.t.Fatalf("drover-runtime %v: %v", args, err)
	}
	return stdout, stderr, code
}

func (r *rtEnv) must(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.rt(args...)
	if code != 0 {
		r.t.Fatalf("drover-runtime %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (r *rtEnv) state(id string) map[string]any {
	r.t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(r.must("state", id)), &st); err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *rtEnv) waitStatus(id, want string) {
	r.t.Helper()
	testutil.Eventually(r.t, 10*time.Second, func() bool { return r.state(id)["status"] == want }, "container %s never became %s", id, want)
}

// cgroupFile reads a file of the container's cgroup v1 controller.
func (r *rtEnv) cgroupFile(id, ctrl, file string) string {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, r.cgroup, id, file))
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestRuntimeLifecycle walks one container through every runc command: create with a pid
// file, state, list, start, ps, exec (with the command line's options and with --process),
// pause and resume, update, events, kill, delete.
func TestRuntimeLifecycle(t *testing.T) {
	r := newRtEnv(t)
	if _, errOut, code := r.rt("spec", "--bundle", r.bundle("spec", []string{"true"}, nil)); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("spec over an existing config.json: exit %d: %s", code, errOut)
	}
	var feat map[string]any
	if err := json.Unmarshal([]byte(r.must("features")), &feat); err != nil || feat["ociVersionMax"] != specs.Version {
		t.Fatalf("features: %v %v", err, feat)
	}

	b := r.bundle("life", []string{"sh", "-c", "trap 'exit 9' USR1; while true; do sleep 0.1; done"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.k": "v"}
	})
	pidFile := filepath.Join(r.dir, "life.pid")
	r.must("create", "--bundle", b, "--pid-file", pidFile, "life")
	st := r.state("life")
	pidData, _ := os.ReadFile(pidFile)
	if st["status"] != "created" || st["bundle"] != b || strconv.Itoa(int(st["pid"].(float64))) != string(pidData) ||
		st["ociVersion"] != specs.Version || st["annotations"].(map[string]any)["org.example.k"] != "v" || st["created"] == "" {
		t.Fatalf("state of a created container: %v (pid file %q)", st, pidData)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.must("list", "--format", "json")), &list); err != nil || len(list) != 1 || list[0]["id"] != "life" {
		t.Fatalf("list --format json: %v %v", err, list)
	}
	if out := r.must("list"); !strings.Contains(out, "ID") || !strings.Contains(out, "life") || !strings.Contains(out, "created") {
		t.Fatalf("list: %q", out)
	}
	r.must("start", "life")
	r.waitStatus("life", "running")
	if _, errOut, code := r.rt("start", "life"); code == 0 || !strings.Contains(errOut, "running") {
		t.Fatalf("start of a running container: exit %d %s", code, errOut)
	}
	var pids []int
	if err := json.Unmarshal([]byte(r.must("ps", "--format", "json", "life")), &pids); err != nil || len(pids) == 0 {
		t.Fatalf("ps --format json: %v %v", err, pids)
	}
	if out := r.must("ps", "life"); !strings.Contains(out, "PID") || !strings.Contains(out, strconv.Itoa(pids[0])) {
		t.Fatalf("ps: %q", out)
	}

	// exec takes the container's process (env, capabilities) and the options given.
	out := r.must("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", "life", "sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g) $PATH"`)
	if out != "bar /tmp 1000:1000 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Fatalf("exec with options: %q", out)
	}
	if _, _, code := r.rt("exec", "life", "sh", "-c", "exit 5"); code != 5 {
		t.Fatalf("exec exit code: %d, want 5", code)
	}
	if out := r.must("exec", "--cap", "CAP_SYS_ADMIN", "life", "sh", "-c", "grep CapEff /proc/self/status"); !strings.Contains(out, "CapEff") || strings.HasSuffix(strings.TrimSpace(out), "00000000a80425fb") {
		t.Fatalf("exec --cap did not add a capability: %q", out)
	}
	proc := specs.Process{Args: []string{"sh", "-c", "echo from-process-file $X"}, Env: []string{"X=1", "PATH=/bin"}, Cwd: "/"}
	procFile := filepath.Join(r.dir, "process.json")
	data, _ := json.Marshal(proc)
	os.WriteFile(procFile, data, 0o644)
	if out := r.must("exec", "--process", procFile, "life"); out != "from-process-file 1\n" {
		t.Fatalf("exec --process: %q", out)
	}
	execPid := filepath.Join(r.dir, "exec.pid")
	r.must("exec", "--detach", "--pid-file", execPid, "life", "sleep", "30")
	if data, err := os.ReadFile(execPid); err != nil || len(data) == 0 {
		t.Fatalf("exec --detach --pid-file: %v %q", err, data)
	}

	r.must("pause", "life")
	r.waitStatus("life", "paused")
	r.must("resume", "life")
	r.waitStatus("life", "running")

	r.must("update", "--memory", "64m", "--pids-limit", "50", "life")
	if got := r.cgroupFile("life", "memory", "memory.limit_in_bytes"); got != "67108864" {
		t.Fatalf("update --memory: limit %s", got)
	}
	if got := r.cgroupFile("life", "pids", "pids.max"); got != "50" {
		t.Fatalf("update --pids-limit: %s", got)
	}
	res := `{"cpu": {"shares": 512}}`
	r.rtIn(strings.NewReader(res), "update", "-r", "-", "life")
	if got := r.cgroupFile("life", "cpu", "cpu.shares"); got != "512" {
		t.Fatalf("update -r: cpu.shares %s", got)
	}
	if _, errOut, code := r.rt("update", "life"); code == 0 || !strings.Contains(errOut, "resource flag") {
		t.Fatalf("update without flags: exit %d %s", code, errOut)
	}
	var ev struct {
		Type string
		ID   string
		Data struct {
			Memory struct{ Usage struct{ Limit uint64 } }
			Pids   struct{ Current uint64 }
		}
	}
	if err := json.Unmarshal([]byte(r.must("events", "--stats", "life")), &ev); err != nil || ev.Type != "stats" || ev.ID != "life" ||
		ev.Data.Memory.Usage.Limit != 67108864 || ev.Data.Pids.Current == 0 {
		t.Fatalf("events --stats: %v %+v", err, ev)
	}

	if _, errOut, code := r.rt("delete", "life"); code == 0 || !strings.Contains(errOut, "running") {
		t.Fatalf("delete of a running container: exit %d %s", code, errOut)
	}
	r.must("kill", "life", "USR1")
	r.waitStatus("life", "stopped")
	if st := r.state("life"); st["pid"].(float64) != 0 {
		t.Fatalf("stopped container still reports pid %v", st["pid"])
	}
	r.must("delete", "life")
	if _, errOut, code := r.rt("state", "life"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("state of a deleted container: exit %d %s", code, errOut)
	}
	if out := r.must("list", "-q"); out != "" {
		t.Fatalf("list after delete: %q", out)
	}
}

// TestRuntimeRun covers run in the foreground (exit code, removal) and detached, kill
// --all, delete --force and a terminal handed over the console socket.
func TestRuntimeRun(t *testing.T) {
	r := newRtEnv(t)
	out, _, code := r.rt("run", "--bundle", r.bundle("fg", []string{"sh", "-c", "echo out-$((6*7)); exit 3"}, nil), "fg")
	if code != 3 || out != "out-42\n" {
		t.Fatalf("run in the foreground: %q exit %d", out, code)
	}
	if out := r.must("list", "-q"); out != "" {
		t.Fatalf("run left a container: %q", out)
	}

	// An address-space limit below what the init's Go runtime has reserved still applies
	// to the container's process, with a seccomp filter built after the limits.
	gib := uint64(1 << 30)
	out, errOut, code := r.rt("run", "--bundle", r.bundle("aslimit", []string{"sh", "-c", "ulimit -v; ulimit -d"}, func(s *specs.Spec) {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: gib, Hard: 2 * gib},
			specs.POSIXRlimit{Type: "RLIMIT_DATA", Soft: gib / 2, Hard: gib})
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"kexec_load", "open_by_handle_at"}, Action: specs.ActErrno}}}
	}), "aslimit")
	if code != 0 || out != "1048576\n524288\n" {
		t.Fatalf("run with RLIMIT_AS 1 GiB: exit %d %q %s", code, out, errOut)
	}

	r.must("run", "-d", "--bundle", r.bundle("bg", []string{"sh", "-c", "sleep 100 & sleep 100 & wait"}, func(s *specs.Spec) {
		// Without a pid namespace of its own, killing init would leave the sleeps behind.
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}), "bg")
	r.waitStatus("bg", "running")
	testutil.Eventually(t, 10*time.Second, func() bool {
		var pids []int
		json.Unmarshal([]byte(r.must("ps", "--format", "json", "bg")), &pids)
		return len(pids) == 3
	}, "bg never had 3 processes")
	r.must("kill", "--all", "bg", "KILL")
	r.waitStatus("bg", "stopped")
	if data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", r.cgroup, "bg", "cgroup.procs")); err == nil && len(bytes.TrimSpace(data)) > 0 {
		t.Fatalf("kill --all left processes: %s", data)
	}
	r.must("delete", "bg")

	r.must("run", "-d", "--bundle", r.bundle("force", []string{"sleep", "100"}, nil), "force")
	r.must("delete", "--force", "force")
	if out := r.must("list", "-q"); out != "" {
		t.Fatalf("delete --force left: %q", out)
	}

	// The console socket protocol: the runtime sends the terminal's master over a unix
	// socket, as conmon and containerd's shim receive it.
	sockPath := filepath.Join(r.dir, "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		f, _ := c.File()
		m, _ := runtime.RecvFd(f)
		f.Close()
		got <- m
	}()
	tb := r.bundle("tty", []string{"sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo tty-ok; sleep 1"}, func(s *specs.Spec) { s.Process.Terminal = true })
	r.must("create", "--bundle", tb, "--console-socket", sockPath, "tty")
	var master *os.File
	select {
	case master = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no terminal arrived on the console socket")
	}
	if master == nil {
		t.Fatal("console socket: no fd received")
	}
	defer master.Close()
	r.must("start", "tty")
	buf := make([]byte, 256)
	master.SetReadDeadline(time.Now().Add(10 * time.Second))
	var seen string
	for !strings.Contains(seen, "tty-ok") {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("read terminal: %v (got %q)", err, seen)
		}
		seen += string(buf[:n])
	}
	r.waitStatus("tty", "stopped")
	r.must("delete", "tty")
	if _, errOut, code := r.rt("create", "--bundle", tb, "tty2"); code == 0 || !strings.Contains(errOut, "console-socket") {
		t.Fatalf("terminal without a console socket: exit %d %s", code, errOut)
	}
}

// TestRuntimeHooks runs the spec's hooks: each gets the container's state on stdin, and a
// failing or hanging prestart hook fails the create with nothing left behind.
func TestRuntimeHooks(t *testing.T) {
	r := newRtEnv(t)
	out := filepath.Join(r.dir, "hooks.out")
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " $(cat) >> " + out}}
	}
	b := r.bundle("hk", []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime: []specs.Hook{hook("createRuntime")},
			Poststart:     []specs.Hook{hook("poststart")},
			Poststop:      []specs.Hook{hook("poststop")},
		}
	})
	r.must("run", "--bundle", b, "hk")
	data, _ := os.ReadFile(out)
	for _, name := range []string{"createRuntime", "poststart", "poststop"} {
		if !strings.Contains(string(data), name+" {") || !strings.Contains(string(data), `"id":"hk"`) {
			t.Fatalf("hook %s did not run with the state on stdin:\n%s", name, data)
		}
	}
}

// TestRuntimeBadInput: bundles a runtime must refuse get a clear error on stderr (and in
// --log), a non-zero exit and no state, cgroup or process left behind.
func TestRuntimeBadInput(t *testing.T) {
	r := newRtEnv(t)
	one := 1
	cases := []struct {
		name string
		edit func(*specs.Spec)
		prep func(bundle string)
		want string
	}{
		{"no-config", nil, func(b string) { os.Remove(filepath.Join(b, "config.json")) }, "has no config.json"},
		{"bad-json", nil, func(b string) { os.WriteFile(filepath.Join(b, "config.json"), []byte("{"), 0o644) }, "config.json"},
		{"future-version", func(s *specs.Spec) { s.Version = "1.99.0" }, nil, "ociVersion 1.99.0 is not supported"},
		{"major-version", func(s *specs.Spec) { s.Version = "2.0.0" }, nil, "not supported"},
		{"bad-version", func(s *specs.Spec) { s.Version = "latest" }, nil, "not a version"},
		{"missing-rootfs", func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" }, nil, "root.path /nonexistent/rootfs"},
		{"unknown-namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, nil, "bogus"},
		{"failing-hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
		}, nil, "hook"},
		{"hanging-hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "100"}, Timeout: &one}}}
		}, nil, "timeout"},
		{"notify-without-listener", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
		}, nil, "listenerPath"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := r.bundle(c.name, []string{"true"}, c.edit)
			if c.prep != nil {
				c.prep(b)
			}
			logFile := filepath.Join(r.dir, c.name+".log")
			_, errOut, code := r.rt("--log", logFile, "--log-format", "json", "create", "--bundle", b, c.name)
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errOut, c.want)
			}
			var entry struct{ Level, Msg string }
			data, _ := os.ReadFile(logFile)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &entry); err != nil || entry.Level != "error" || !strings.Contains(entry.Msg, c.want) {
				t.Fatalf("--log json: %v %q", err, data)
			}
			if out := r.must("list", "-q"); out != "" {
				t.Fatalf("a failed create left a container: %q", out)
			}
			if _, err := os.Stat(filepath.Join(r.root, c.name)); err == nil {
				t.Fatalf("a failed create left its state directory")
			}
			if dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + r.cgroup + "/" + c.name); len(dirs) > 0 {
				t.Fatalf("a failed create left cgroups: %v", dirs)
			}
		})
	}
	for _, args := range [][]string{{"state", "nope"}, {"kill", "nope"}, {"start", "nope"}, {"exec", "nope", "true"}, {"create", "--bundle", r.dir, "../escape"}} {
		if _, errOut, code := r.rt(args...); code == 0 || errOut == "" {
			t.Fatalf("%v: exit %d %q", args, code, errOut)
		}
	}
	if _, errOut, code := r.rt("--systemd-cgroup", "list"); code == 0 || !strings.Contains(errOut, "systemd") {
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			t.Fatalf("--systemd-cgroup without systemd: exit %d %q", code, errOut)
		}
	}
	if _, errOut, code := r.rt("kill", "x", "SIGNOPE"); code == 0 || !strings.Contains(errOut, "invalid signal") {
		t.Fatalf("bad signal: exit %d %q", code, errOut)
	}
}

// TestRuntimePodman: podman (Debian's, with conmon) runs containers with drover-runtime as
// its OCI runtime: run, exec, stop, run -it on a terminal, and a memory limit.
func TestRuntimePodman(t *testing.T) {
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	r := newRtEnv(t)
	img := "localhost/drover-e2e-rt-" + filepath.Base(r.dir)
	if o, err := exec.Command("podman", "import", "-q", busyboxTar(t), img).CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v\n%s", err, o)
	}
	name := "drover-rt-" + filepath.Base(r.dir)
	t.Cleanup(func() {
		exec.Command("podman", "rm", "-f", "-t", "0", name).Run()
		exec.Command("podman", "rmi", "-f", img).Run()
	})
	podman := func(args ...string) *exec.Cmd {
		base := []string{"--runtime", r.bin, "--cgroup-manager", "cgroupfs"}
		return exec.Command("podman", append(base, args...)...)
	}
	runArgs := []string{"--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

	o, err := podman(append(append([]string{"run", "--rm"}, runArgs...), img, "sh", "-c", "echo from podman; exit 3")...).Output()
	var ee *exec.ExitError
	if !asExit(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(o), "from podman") {
		t.Fatalf("podman run: %v %q", err, o)
	}
	o, err = podman(append(append([]string{"run", "--rm", "-m", "64m"}, runArgs...), img, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(o)) != "67108864" {
		t.Fatalf("podman run -m 64m: %v %q", err, o)
	}
	if o, err := podman(append(append([]string{"run", "-d", "--name", name}, runArgs...), img, "sleep", "1000")...).CombinedOutput(); err != nil {
		t.Fatalf("podman run -d: %v %s", err, o)
	}
	if o, err := podman("exec", name, "sh", "-c", "echo exec-$((2+3))").CombinedOutput(); err != nil || !strings.Contains(string(o), "exec-5") {
		t.Fatalf("podman exec: %v %q", err, o)
	}
	if o, err := podman("stop", "-t", "1", name).CombinedOutput(); err != nil {
		t.Fatalf("podman stop: %v %s", err, o)
	}
	if o, _ := podman("inspect", "-f", "{{.State.Status}}", name).Output(); strings.TrimSpace(string(o)) != "exited" {
		t.Fatalf("after podman stop: %q", o)
	}

	// podman run -it on a real terminal: input reaches the container, its exit code returns.
	master, slave := openPTY(t)
	defer master.Close()
	cmd := podman(append(append([]string{"run", "--rm", "-it"}, runArgs...), img, "sh")...)
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
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "mark-42") {
		master.Write([]byte("tty && echo mark-$((6*7))\r"))
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("podman run -it: terminal never answered:\n%s", out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "/dev/pts/") {
		t.Fatalf("podman run -it: no terminal in the container:\n%s", out.String())
	}
	master.Write([]byte("exit 7\r"))
	select {
	case err := <-done:
		if !asExit(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("podman run -it ended with %v, want exit 7\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("podman run -it did not end")
	}
}
