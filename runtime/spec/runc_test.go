package spec

import (
	"bufio"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/testutil"
)

// These tests run real containers from Generate's specs with the external runc binary, so
// the security defaults are checked by the kernel rather than by reading the spec back.

// runcEnv is a tiny busybox rootfs plus a runc state dir and a private cgroup parent.
type runcEnv struct {
	runc         string
	stateRoot    string
	rootfs       string
	cgroupParent string // "/drover-test-<random>"
	lastID       string // ID of the latest container run
}

func newRuncEnv(t *testing.T) *runcEnv {
	t.Helper()
	testutil.RequiresRoot(t)
	runc := findBinary("runc", "/usr/sbin/runc", "/usr/bin/runc")
	if runc == "" {
		t.Skip("runc is not installed")
	}
	if !isStatic(t, "/bin/busybox") {
		t.Skip("needs a static /bin/busybox (Debian package busybox-static)")
	}
	dir := t.TempDir()
	e := &runcEnv{
		runc:         runc,
		stateRoot:    filepath.Join(dir, "state"),
		rootfs:       filepath.Join(dir, "rootfs"),
		cgroupParent: "/drover-test-" + randomHex(t, 6),
	}
	for _, d := range []string{"bin", "etc", "mnt", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(e.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "/bin/busybox", filepath.Join(e.rootfs, "bin/busybox"), 0o755)
	writeFile(t, filepath.Join(e.rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	writeFile(t, filepath.Join(e.rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\nextra:x:4242:nobody\n")
	// Runs after every container's own cleanup (t.Cleanup is LIFO): remove the parent
	// cgroup in each hierarchy, which runc delete leaves behind.
	t.Cleanup(func() { removeCgroupParent(t, e.cgroupParent) })
	return e
}

// run starts one container with the spec from opts (ID, Rootfs and CgroupsPath filled in)
// and returns its combined output and exit code.
func (e *runcEnv) run(t *testing.T, opts Options) (string, int) {
	t.Helper()
	id := "t" + randomHex(t, 6)
	e.lastID = id
	opts.ID = id
	opts.Rootfs = e.rootfs
	opts.CgroupsPath = e.cgroupParent + "/" + id
	s, err := Generate(opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	bundle := t.TempDir()
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bundle, "config.json"), string(data))
	t.Cleanup(func() {
		// Normally a no-op: "runc run" deletes the container when it exits.
		out, err := exec.Command(e.runc, "--root", e.stateRoot, "delete", "--force", id).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "not exist") {
			t.Logf("runc delete %s: %v: %s", id, err, out)
		}
	})
	cmd := exec.Command(e.runc, "--root", e.stateRoot, "run", "--bundle", bundle, id)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("runc run: %v", err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func TestRuncDefaults(t *testing.T) {
	e := newRuncEnv(t)
	bb := func(args ...string) Options { return Options{Args: append([]string{"/bin/busybox"}, args...)} }

	t.Run("true", func(t *testing.T) {
		if out, code := e.run(t, bb("true")); code != 0 {
			t.Fatalf("busybox true: exit %d: %s", code, out)
		}
	})

	t.Run("status", func(t *testing.T) {
		out, code := e.run(t, bb("cat", "/proc/self/status"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		fields := statusFields(out)
		if got, want := fields["CapEff"], capMaskHex(DefaultCapabilities); got != want {
			t.Errorf("CapEff = %s, want %s", got, want)
		}
		if got := fields["CapBnd"]; got != capMaskHex(DefaultCapabilities) {
			t.Errorf("CapBnd = %s, want %s", got, capMaskHex(DefaultCapabilities))
		}
		if got := fields["CapAmb"]; got != "0000000000000000" {
			t.Errorf("CapAmb = %s, want none", got)
		}
		if got := fields["CapInh"]; got != "0000000000000000" {
			t.Errorf("CapInh = %s, want none", got)
		}
		if got := fields["Seccomp"]; got != "2" {
			t.Errorf("Seccomp = %q, want 2 (filter)", got)
		}
		if got := fields["NoNewPrivs"]; got != "0" {
			t.Errorf("NoNewPrivs = %q, want 0", got)
		}
	})

	t.Run("mount denied", func(t *testing.T) {
		out, code := e.run(t, bb("mount", "-t", "tmpfs", "none", "/mnt"))
		if code == 0 {
			t.Fatalf("mount succeeded without privileges: %s", out)
		}
		if !strings.Contains(strings.ToLower(out), "permission denied") && !strings.Contains(out, "not permitted") {
			t.Errorf("mount failed for another reason: %s", out)
		}
	})

	t.Run("user namespace denied by seccomp", func(t *testing.T) {
		// unshare(CLONE_NEWUSER) needs no capability, so only the filter stops it; the
		// unconfined run shows the kernel would have allowed it.
		o := bb("unshare", "-U", "/bin/busybox", "true")
		o.Seccomp = Seccomp{Mode: SeccompUnconfined}
		if out, code := e.run(t, o); code != 0 {
			t.Skipf("unshare -U fails even unconfined (the host forbids user namespaces?): %s", out)
		}
		out, code := e.run(t, bb("unshare", "-U", "/bin/busybox", "true"))
		if code == 0 || !strings.Contains(out, "not permitted") {
			t.Fatalf("unshare -U under the default profile: exit %d: %s", code, out)
		}
	})

	t.Run("fork and pipes", func(t *testing.T) {
		out, code := e.run(t, bb("sh", "-c", "/bin/busybox echo hello | /bin/busybox tr a-z A-Z; /bin/busybox sleep 0"))
		if code != 0 || strings.TrimSpace(out) != "HELLO" {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})

	t.Run("masked paths", func(t *testing.T) {
		// Which of them exist depends on the kernel's config (this CI kernel has no
		// /proc/kcore), so check every one the host has: files must read empty, directories
		// must list nothing.
		var script []string
		checked := 0
		for _, p := range maskedPaths {
			st, err := os.Stat(p)
			if err != nil {
				continue
			}
			checked++
			if st.IsDir() {
				script = append(script, fmt.Sprintf("echo %s $(/bin/busybox ls -A %s | /bin/busybox wc -l)", p, p))
			} else {
				script = append(script, fmt.Sprintf("echo %s $(/bin/busybox wc -c < %s)", p, p))
			}
		}
		if checked == 0 {
			t.Skip("the host has none of the masked paths")
		}
		out, code := e.run(t, bb("sh", "-c", strings.Join(script, "; ")))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != checked {
			t.Fatalf("exit %d, output %q", code, out)
		}
		for _, l := range lines {
			if f := strings.Fields(l); len(f) != 2 || f[1] != "0" {
				t.Errorf("masked path not empty: %q", l)
			}
		}
	})

	t.Run("proc sys read-only", func(t *testing.T) {
		out, code := e.run(t, bb("sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"))
		if code == 0 {
			t.Fatalf("write to /proc/sys succeeded: %s", out)
		}
	})

	t.Run("cgroup path", func(t *testing.T) {
		out, code := e.run(t, bb("cat", "/proc/self/cgroup"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		h, err := probeHost()
		if err != nil {
			t.Fatal(err)
		}
		// With a cgroup namespace (v2) the container sees "/"; otherwise its real path.
		if !h.cgroup2 && !strings.Contains(out, e.cgroupParent+"/"+e.lastID+"\n") {
			t.Errorf("cgroups %q, want paths %s/%s", out, e.cgroupParent, e.lastID)
		}
		// runc removed the container's cgroups when it exited.
		for _, dir := range cgroupDirs(t, e.cgroupParent+"/"+e.lastID) {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("cgroup %s left behind", dir)
			}
		}
	})

	t.Run("rlimit nofile clamped", func(t *testing.T) {
		var l unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint(min(l.Max, defaultNofile))
		out, code := e.run(t, bb("sh", "-c", "ulimit -n; ulimit -Hn"))
		if code != 0 || strings.Fields(out)[0] != want || strings.Fields(out)[1] != want {
			t.Fatalf("exit %d, soft/hard nofile %q, want %s", code, out, want)
		}
	})

	t.Run("user and groups", func(t *testing.T) {
		o := bb("id")
		o.User = "nobody"
		out, code := e.run(t, o)
		if code != 0 || !strings.Contains(out, "uid=65534") || !strings.Contains(out, "4242") {
			t.Fatalf("exit %d, id %q", code, out)
		}
	})

	t.Run("read-only rootfs", func(t *testing.T) {
		o := bb("touch", "/x")
		o.ReadonlyRootfs = true
		if out, code := e.run(t, o); code == 0 {
			t.Fatalf("write to a read-only rootfs succeeded: %s", out)
		}
	})

	t.Run("tmpfs and bind mounts", func(t *testing.T) {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "f"), "from host")
		tm, err := ParseTmpfs("/scratch:size=1m,mode=1777")
		if err != nil {
			t.Fatal(err)
		}
		v, err := ParseVolume(src + ":/data:ro")
		if err != nil {
			t.Fatal(err)
		}
		o := bb("sh", "-c", "/bin/busybox cat /data/f && /bin/busybox touch /scratch/ok && ! /bin/busybox touch /data/g 2>/dev/null && /bin/busybox df -k /dev/shm | /bin/busybox tail -1")
		o.Mounts = []Mount{tm, v}
		o.ShmSize = 8 << 20
		out, code := e.run(t, o)
		if code != 0 || !strings.HasPrefix(out, "from host") || !strings.Contains(out, " 8192 ") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})

	t.Run("privileged", func(t *testing.T) {
		o := bb("sh", "-c", "/bin/busybox grep -E '^(Seccomp|CapEff):' /proc/self/status && /bin/busybox mount -t tmpfs none /mnt && echo mounted")
		o.Privileged = true
		out, code := e.run(t, o)
		if code != 0 || !strings.Contains(out, "mounted") {
			t.Fatalf("exit %d, output %q", code, out)
		}
		fields := statusFields(out)
		if fields["Seccomp"] != "0" {
			t.Errorf("privileged Seccomp = %q, want 0", fields["Seccomp"])
		}
		bnd, _, err := ownCapabilities()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%016x", bnd); fields["CapEff"] != want {
			t.Errorf("privileged CapEff = %s, want the host's bounding set %s", fields["CapEff"], want)
		}
	})

	t.Run("cap add and drop", func(t *testing.T) {
		o := bb("grep", "CapEff", "/proc/self/status")
		o.CapAdd = []string{"net_admin"}
		o.CapDrop = []string{"CAP_CHOWN", "kill"}
		out, code := e.run(t, o)
		want := []string{"CAP_NET_ADMIN"}
		for _, c := range DefaultCapabilities {
			if c != "CAP_CHOWN" && c != "CAP_KILL" {
				want = append(want, c)
			}
		}
		if code != 0 || statusFields(out)["CapEff"] != capMaskHex(want) {
			t.Fatalf("exit %d, output %q, want CapEff %s", code, out, capMaskHex(want))
		}
	})

	t.Run("no-new-privileges", func(t *testing.T) {
		o := bb("grep", "NoNewPrivs", "/proc/self/status")
		o.NoNewPrivileges = true
		out, code := e.run(t, o)
		if code != 0 || statusFields(out)["NoNewPrivs"] != "1" {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})

	t.Run("init", func(t *testing.T) {
		tini := findBinary("", "/usr/bin/tini-static")
		if tini == "" {
			t.Skip("tini-static is not installed")
		}
		o := bb("sh", "-c", "/bin/busybox tr '\\0' ' ' < /proc/1/cmdline")
		o.InitPath = tini
		o.ReadonlyRootfs = true
		out, code := e.run(t, o)
		if code != 0 || !strings.HasPrefix(out, InitDestination+" -- /bin/busybox sh") {
			t.Fatalf("exit %d, pid 1 cmdline %q", code, out)
		}
	})

	t.Run("go program and filtered syscalls", func(t *testing.T) {
		e.buildProbe(t)
		want := map[string]string{
			"clone3": "ENOSYS", "unshare_fs": "ok", "unshare_user": "EPERM",
			"socket_vsock": "EPERM", "socket_inet": "ok", "keyctl": "EPERM",
			"personality_query": "ok", "personality_other": "EPERM", "bpf": "EPERM",
			"ptrace_traceme_probe": "ESRCH", "exec": "ok", "tcp_loopback": "ok",
		}
		out, code := e.run(t, Options{Args: []string{"/bin/probe"}})
		checkProbe(t, out, code, want)

		// With CAP_SYS_ADMIN the capability-conditional rules open clone3 and bpf.
		o := Options{Args: []string{"/bin/probe"}, CapAdd: []string{"SYS_ADMIN"}}
		out, code = e.run(t, o)
		checkProbe(t, out, code, map[string]string{"clone3": "EINVAL", "bpf": "EINVAL", "exec": "ok", "keyctl": "EPERM"})
	})

	t.Run("resources", func(t *testing.T) {
		o := bb("sh", "-c", `cd /sys/fs/cgroup
if [ -f memory.max ]; then cat memory.max pids.max cpu.max; else
cat memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares; fi`)
		o.Resources = Resources{Memory: 64 << 20, CPUs: 0.5, CPUShares: 512, PidsLimit: 50}
		out, code := e.run(t, o)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		f := strings.Fields(out)
		if len(f) < 3 || f[0] != "67108864" || f[1] != "50" || f[2] != "50000" {
			t.Errorf("memory, pids, cpu quota = %q", out)
		}
	})

	t.Run("network sysctls", func(t *testing.T) {
		out, code := e.run(t, bb("cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"))
		if code != 0 || strings.TrimSpace(out) != "0" {
			t.Fatalf("exit %d, ip_unprivileged_port_start %q, want 0", code, out)
		}
	})

	t.Run("host network", func(t *testing.T) {
		o := bb("hostname")
		o.Network = NetworkHost
		out, code := e.run(t, o)
		want, _ := os.Hostname()
		if code != 0 || strings.TrimSpace(out) != want {
			t.Fatalf("exit %d, hostname %q, want the host's %q", code, out, want)
		}
	})

	t.Run("custom profile", func(t *testing.T) {
		p, err := ParseSeccompProfile([]byte(`{"defaultAction":"SCMP_ACT_ALLOW",
			"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`))
		if err != nil {
			t.Fatal(err)
		}
		o := bb("sh", "-c", "/bin/busybox grep Seccomp: /proc/self/status; /bin/busybox mkdir /tmp/d")
		o.Seccomp = Seccomp{Mode: SeccompCustom, Profile: p}
		out, code := e.run(t, o)
		if code == 0 || statusFields(out)["Seccomp"] != "2" || !strings.Contains(out, "Permission denied") {
			t.Fatalf("custom profile not applied: exit %d, output %q", code, out)
		}
	})
}

// buildProbe compiles testdata/probe, a static Go program, into the rootfs once.
func (e *runcEnv) buildProbe(t *testing.T) {
	t.Helper()
	dst := filepath.Join(e.rootfs, "bin/probe")
	if _, err := os.Stat(dst); err == nil {
		return
	}
	gobin := findBinary("go", filepath.Join(runtime.GOROOT(), "bin/go"))
	if gobin == "" {
		t.Skip("no go toolchain to build the probe")
	}
	cmd := exec.Command(gobin, "build", "-o", dst, "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v: %s", err, out)
	}
}

// checkProbe compares the probe's name=result lines with want.
func checkProbe(t *testing.T, out string, code int, want map[string]string) {
	t.Helper()
	if code != 0 {
		t.Fatalf("probe: exit %d: %s", code, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// statusFields parses "Key:\tvalue" lines of /proc/<pid>/status.
func statusFields(s string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func capMaskHex(caps []string) string {
	var mask uint64
	for _, c := range caps {
		mask |= 1 << capIndex[c]
	}
	return fmt.Sprintf("%016x", mask)
}

// removeCgroupParent removes the test's parent cgroup from every mounted hierarchy.
func removeCgroupParent(t *testing.T, parent string) {
	for _, dir := range cgroupDirs(t, parent) {
		if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Errorf("cgroup cleanup: rmdir %s: %v", dir, err)
		}
	}
}

// cgroupDirs lists where cgroup path p lives in every mounted cgroup hierarchy.
func cgroupDirs(t *testing.T, p string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("read mountinfo: %v", err)
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 1 {
			continue
		}
		if postFields[0] == "cgroup" || postFields[0] == "cgroup2" {
			dirs = append(dirs, filepath.Join(fields[4], p))
		}
	}
	return dirs
}

func findBinary(name string, candidates ...string) string {
	if name != "" {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

func isStatic(t *testing.T, p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
