package spec

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

// fakeHost is a cgroup v1 machine like CI: every capability but CAP_SYS_RESOURCE, hard
// rlimits of 20000, 4 CPUs.
func fakeHost() *host {
	bounding := capNamesOfMask(1<<len(capNames) - 1)
	delete(bounding, "CAP_SYS_RESOURCE")
	return &host{
		swapAccounting: true,
		kernel:         [2]int{6, 1},
		bounding:       bounding,
		rlimitHard:     func(int) (uint64, error) { return 20000, nil },
		nrOpen:         1 << 20,
		numCPU:         4,
		hostname:       "hostbox",
	}
}

// testRootfs makes a rootfs with passwd and group files.
func testRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), strings.Join([]string{
		"root:x:0:0:root:/root:/bin/sh",
		"app:x:1000:1000:app:/home/app:/bin/sh",
		"nohome:x:1001:1001::",
	}, "\n")+"\n")
	writeFile(t, filepath.Join(root, "etc/group"), strings.Join([]string{
		"root:x:0:",
		"app:x:1000:",
		"audio:x:29:app",
		"video:x:44:app,other",
		"staff:x:50:",
	}, "\n")+"\n")
	return root
}

func baseOptions(t *testing.T) Options {
	return Options{ID: "abcdef0123456789", Rootfs: testRootfs(t), Args: []string{"/bin/sh"}}
}

func mustGenerate(t *testing.T, o Options, h *host) *specs.Spec {
	t.Helper()
	s, err := generate(o, h)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return s
}

func TestGenerateDefaults(t *testing.T) {
	o := baseOptions(t)
	s := mustGenerate(t, o, fakeHost())

	if s.Version != specs.Version || s.Root.Path != o.Rootfs || s.Root.Readonly {
		t.Errorf("version/root = %q %+v", s.Version, s.Root)
	}
	p := s.Process
	if p.Cwd != "/" || p.Terminal || p.NoNewPrivileges || p.User.UID != 0 || p.User.GID != 0 {
		t.Errorf("process = %+v", p)
	}
	if !slices.Equal(p.Capabilities.Bounding, DefaultCapabilities) && len(p.Capabilities.Bounding) != len(DefaultCapabilities) {
		t.Errorf("bounding = %v", p.Capabilities.Bounding)
	}
	for _, set := range [][]string{p.Capabilities.Bounding, p.Capabilities.Effective, p.Capabilities.Permitted} {
		if got, want := sorted(set), sorted(DefaultCapabilities); !slices.Equal(got, want) {
			t.Errorf("capability set = %v, want %v", got, want)
		}
	}
	if len(p.Capabilities.Ambient) != 0 || len(p.Capabilities.Inheritable) != 0 {
		t.Errorf("ambient/inheritable = %v/%v, want none", p.Capabilities.Ambient, p.Capabilities.Inheritable)
	}
	if !slices.Equal(p.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 20000, Hard: 20000}}) {
		t.Errorf("rlimits = %+v, want nofile clamped to 20000", p.Rlimits)
	}
	wantEnv := []string{"PATH=" + DefaultPath, "HOSTNAME=abcdef012345", "HOME=/root"}
	if !slices.Equal(p.Env, wantEnv) {
		t.Errorf("env = %q, want %q", p.Env, wantEnv)
	}
	if s.Hostname != "abcdef012345" {
		t.Errorf("hostname = %q", s.Hostname)
	}

	l := s.Linux
	var nsTypes []specs.LinuxNamespaceType
	for _, ns := range l.Namespaces {
		nsTypes = append(nsTypes, ns.Type)
		if ns.Path != "" {
			t.Errorf("namespace %s joins %s", ns.Type, ns.Path)
		}
	}
	wantNS := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.NetworkNamespace}
	if !slices.Equal(nsTypes, wantNS) {
		t.Errorf("namespaces = %v, want %v (no cgroup ns on v1)", nsTypes, wantNS)
	}
	if l.CgroupsPath != "/drover/abcdef0123456789" || l.RootfsPropagation != "rprivate" {
		t.Errorf("cgroupsPath/propagation = %q %q", l.CgroupsPath, l.RootfsPropagation)
	}
	if !slices.Equal(l.MaskedPaths, maskedPaths) || !slices.Equal(l.ReadonlyPaths, readonlyPaths) {
		t.Errorf("masked/readonly = %v %v", l.MaskedPaths, l.ReadonlyPaths)
	}
	if l.Seccomp == nil || l.Seccomp.DefaultAction != specs.ActErrno || len(l.Seccomp.Syscalls) == 0 {
		t.Errorf("seccomp = %+v, want the default profile", l.Seccomp)
	}
	if runtime.GOARCH == "amd64" && !slices.Equal(l.Seccomp.Architectures, []specs.Arch{specs.ArchX86_64}) {
		t.Errorf("seccomp architectures = %v, want the native ABI only", l.Seccomp.Architectures)
	}
	if d := l.Resources.Devices; len(d) == 0 || d[0].Allow || d[0].Access != "rwm" || d[0].Type != "" {
		t.Errorf("first device rule = %+v, want deny all", d)
	}
	if l.Resources.Memory != nil || l.Resources.CPU != nil || l.Resources.Pids != nil {
		t.Errorf("resources = %+v, want no limits", l.Resources)
	}
	if l.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" || l.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" {
		t.Errorf("sysctl = %v", l.Sysctl)
	}
	if len(l.Devices) != 0 {
		t.Errorf("devices = %+v, want none (the runtime adds the defaults)", l.Devices)
	}

	mounts := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		mounts[m.Destination] = m
	}
	for dst, want := range map[string][]string{
		"/proc":          {"proc", "nosuid", "noexec", "nodev"},
		"/dev":           {"tmpfs", "nosuid", "mode=755"},
		"/dev/pts":       {"devpts", "newinstance", "ptmxmode=0666", "gid=5"},
		"/dev/shm":       {"tmpfs", "size=67108864", "mode=1777"},
		"/dev/mqueue":    {"mqueue", "nosuid"},
		"/sys":           {"sysfs", "ro"},
		"/sys/fs/cgroup": {"cgroup", "ro"},
	} {
		m, ok := mounts[dst]
		if !ok {
			t.Errorf("no %s mount", dst)
			continue
		}
		if m.Type != want[0] {
			t.Errorf("%s type = %q, want %q", dst, m.Type, want[0])
		}
		for _, opt := range want[1:] {
			if !slices.Contains(m.Options, opt) {
				t.Errorf("%s options %v lack %q", dst, m.Options, opt)
			}
		}
	}
}

func TestGenerateVariants(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Options, *host)
		check func(*testing.T, *specs.Spec)
	}{
		{"privileged", func(o *Options, h *host) { o.Privileged = true }, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
				t.Errorf("privileged keeps seccomp/masks: %+v", s.Linux)
			}
			if len(s.Process.Capabilities.Bounding) != len(capNames)-1 || slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_RESOURCE") {
				t.Errorf("privileged caps = %v, want the host's bounding set", s.Process.Capabilities.Bounding)
			}
			if d := s.Linux.Resources.Devices; len(d) != 1 || !d[0].Allow || d[0].Access != "rwm" {
				t.Errorf("privileged devices = %+v", d)
			}
			if m := findMount(s, "/sys"); !slices.Contains(m.Options, "rw") {
				t.Errorf("privileged /sys = %v, want rw", m.Options)
			}
			if m := findMount(s, "/sys/fs/cgroup"); !slices.Contains(m.Options, "ro") {
				t.Errorf("privileged cgroupfs without cgroupns = %v, want ro", m.Options)
			}
		}},
		{"privileged cgroup v2", func(o *Options, h *host) { o.Privileged = true; h.cgroup2 = true }, func(t *testing.T, s *specs.Spec) {
			if m := findMount(s, "/sys/fs/cgroup"); !slices.Contains(m.Options, "rw") {
				t.Errorf("cgroupfs = %v, want rw", m.Options)
			}
		}},
		{"privileged with custom profile", func(o *Options, h *host) {
			o.Privileged = true
			o.Seccomp = Seccomp{Mode: SeccompCustom, Profile: &SeccompProfile{DefaultAction: specs.ActAllow}}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow {
				t.Errorf("seccomp = %+v, want the custom profile", s.Linux.Seccomp)
			}
		}},
		{"host pid and ipc, pod sysctls, groups, path overrides", func(o *Options, h *host) {
			o.PIDNamespace, o.IPCNamespace = "host", "host"
			o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
			o.GroupAdd = []string{"1234"}
			o.MaskedPaths, o.ReadonlyPaths = []string{"/proc/x"}, []string{}
		}, func(t *testing.T, s *specs.Spec) {
			if hasNamespace(s.Linux.Namespaces, specs.PIDNamespace) || hasNamespace(s.Linux.Namespaces, specs.IPCNamespace) {
				t.Errorf("namespaces = %v, want the host's pid and ipc", s.Linux.Namespaces)
			}
			if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" || s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
				t.Errorf("sysctls = %v", s.Linux.Sysctl)
			}
			if !slices.Contains(s.Process.User.AdditionalGids, 1234) {
				t.Errorf("groups = %v", s.Process.User.AdditionalGids)
			}
			if !slices.Equal(s.Linux.MaskedPaths, []string{"/proc/x"}) || s.Linux.ReadonlyPaths == nil || len(s.Linux.ReadonlyPaths) != 0 {
				t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
		}},
		{"joined pid namespace", func(o *Options, h *host) { o.PIDNamespace = "/proc/1/ns/pid" }, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Namespaces[0] != (specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"}) {
				t.Errorf("namespaces = %v", s.Linux.Namespaces)
			}
		}},
		{"compat ABI image", func(o *Options, h *host) { o.CompatABI = true }, func(t *testing.T, s *specs.Spec) {
			if runtime.GOARCH == "amd64" && !slices.Equal(s.Linux.Seccomp.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
				t.Errorf("seccomp architectures = %v, want x86_64 and x86", s.Linux.Seccomp.Architectures)
			}
		}},
		{"unconfined", func(o *Options, h *host) { o.Seccomp.Mode = SeccompUnconfined }, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Errorf("seccomp = %+v", s.Linux.Seccomp)
			}
		}},
		{"cgroup v2 namespace", func(o *Options, h *host) { h.cgroup2 = true }, func(t *testing.T, s *specs.Spec) {
			if !specHasNamespace(s, specs.CgroupNamespace, "") {
				t.Errorf("no cgroup namespace on v2: %+v", s.Linux.Namespaces)
			}
			if m := findMount(s, "/sys/fs/cgroup"); !slices.Contains(m.Options, "ro") {
				t.Errorf("cgroupfs = %v, want ro", m.Options)
			}
		}},
		{"host network", func(o *Options, h *host) { o.Network = NetworkHost }, func(t *testing.T, s *specs.Spec) {
			if specHasNamespace(s, specs.NetworkNamespace, "") || s.Linux.Sysctl != nil {
				t.Errorf("host network has a net namespace or net sysctls: %+v", s.Linux)
			}
			if s.Hostname != "hostbox" || !slices.Contains(s.Process.Env, "HOSTNAME=hostbox") {
				t.Errorf("hostname = %q, env %v", s.Hostname, s.Process.Env)
			}
		}},
		{"netns path", func(o *Options, h *host) { o.Network = NetworkMode(o.Rootfs) }, func(t *testing.T, s *specs.Spec) {
			if !specHasNamespace(s, specs.NetworkNamespace, s.Root.Path) {
				t.Errorf("namespaces = %+v", s.Linux.Namespaces)
			}
		}},
		{"terminal and env", func(o *Options, h *host) {
			o.Terminal = true
			o.Hostname = "web"
			o.Env = []string{"PATH=/custom", "A=1", "HOME=/h", "A=2"}
		}, func(t *testing.T, s *specs.Spec) {
			want := []string{"PATH=/custom", "HOSTNAME=web", "TERM=xterm", "A=2", "HOME=/h"}
			if !slices.Equal(s.Process.Env, want) {
				t.Errorf("env = %q, want %q", s.Process.Env, want)
			}
			if !s.Process.Terminal || s.Hostname != "web" {
				t.Errorf("terminal/hostname = %v %q", s.Process.Terminal, s.Hostname)
			}
		}},
		{"user by name", func(o *Options, h *host) { o.User = "app" }, func(t *testing.T, s *specs.Spec) {
			u := s.Process.User
			if u.UID != 1000 || u.GID != 1000 || !slices.Equal(u.AdditionalGids, []uint32{29, 44}) {
				t.Errorf("user = %+v", u)
			}
			if !slices.Contains(s.Process.Env, "HOME=/home/app") {
				t.Errorf("env = %v", s.Process.Env)
			}
		}},
		{"user name:group", func(o *Options, h *host) { o.User = "app:staff" }, func(t *testing.T, s *specs.Spec) {
			if u := s.Process.User; u.UID != 1000 || u.GID != 50 || len(u.AdditionalGids) != 0 {
				t.Errorf("user = %+v", u)
			}
		}},
		{"user numeric unknown", func(o *Options, h *host) { o.User = "4000:4001" }, func(t *testing.T, s *specs.Spec) {
			if u := s.Process.User; u.UID != 4000 || u.GID != 4001 {
				t.Errorf("user = %+v", u)
			}
			if !slices.Contains(s.Process.Env, "HOME=/") {
				t.Errorf("env = %v", s.Process.Env)
			}
		}},
		{"init", func(o *Options, h *host) { o.InitPath = "/bin/sh" }, func(t *testing.T, s *specs.Spec) {
			if want := []string{InitDestination, "--", "/bin/sh"}; !slices.Equal(s.Process.Args, want) {
				t.Errorf("args = %q, want %q", s.Process.Args, want)
			}
			m := findMount(s, InitDestination)
			if m.Source != "/bin/sh" || !slices.Contains(m.Options, "ro") || slices.Contains(m.Options, "noexec") {
				t.Errorf("init mount = %+v", m)
			}
		}},
		{"resources", func(o *Options, h *host) {
			o.Resources = Resources{Memory: 64 << 20, CPUs: 1.5, CPUShares: 512, PidsLimit: 100}
		}, func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
				t.Errorf("memory = %d swap %d, want swap twice memory", *r.Memory.Limit, *r.Memory.Swap)
			}
			if *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 512 {
				t.Errorf("cpu = %+v", r.CPU)
			}
			if *r.Pids.Limit != 100 {
				t.Errorf("pids = %d", *r.Pids.Limit)
			}
		}},
		{"swap unlimited", func(o *Options, h *host) { o.Resources = Resources{Memory: 64 << 20, MemorySwap: -1} }, func(t *testing.T, s *specs.Spec) {
			if *s.Linux.Resources.Memory.Swap != -1 {
				t.Errorf("swap = %d", *s.Linux.Resources.Memory.Swap)
			}
		}},
		{"no swap accounting", func(o *Options, h *host) {
			h.swapAccounting = false
			o.Resources = Resources{Memory: 64 << 20, MemorySwap: 100 << 20}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Resources.Memory.Swap != nil {
				t.Errorf("swap set without swap accounting")
			}
		}},
		{"ulimits", func(o *Options, h *host) {
			o.Ulimits = []Ulimit{{Name: "nproc", Soft: 100, Hard: 200}, {Name: "nofile", Soft: 1024, Hard: 2048}}
		}, func(t *testing.T, s *specs.Spec) {
			want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, {Type: "RLIMIT_NPROC", Soft: 100, Hard: 200}}
			if !slices.Equal(s.Process.Rlimits, want) {
				t.Errorf("rlimits = %+v", s.Process.Rlimits)
			}
		}},
		{"rlimits with CAP_SYS_RESOURCE", func(o *Options, h *host) {
			h.canRaiseRlimits = true
			o.Ulimits = []Ulimit{{Name: "core", Soft: RlimInfinity, Hard: RlimInfinity}}
		}, func(t *testing.T, s *specs.Spec) {
			want := []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: RlimInfinity, Hard: RlimInfinity}, {Type: "RLIMIT_NOFILE", Soft: 1 << 20, Hard: 1 << 20}}
			if !slices.Equal(s.Process.Rlimits, want) {
				t.Errorf("rlimits = %+v", s.Process.Rlimits)
			}
		}},
		{"user mounts", func(o *Options, h *host) {
			src := t.TempDir()
			o.Mounts = []Mount{
				{Type: MountBind, Source: src, Destination: "/data/sub", ReadOnly: true},
				{Type: MountTmpfs, Destination: "/dev/shm", Options: []string{"size=1m"}},
				{Type: MountBind, Source: src, Destination: "/data/", Propagation: "rslave"},
			}
			o.ReadonlyRootfs = true
			o.Cwd = "/data/./x/"
			o.Labels = map[string]string{"a": "b"}
		}, func(t *testing.T, s *specs.Spec) {
			var dsts []string
			for _, m := range s.Mounts {
				dsts = append(dsts, m.Destination)
			}
			if strings.Count(strings.Join(dsts, " "), "/dev/shm") != 1 {
				t.Errorf("mounts %v: the user's /dev/shm should replace the default", dsts)
			}
			if i, j := slices.Index(dsts, "/data"), slices.Index(dsts, "/data/sub"); i < 0 || j < i {
				t.Errorf("mounts %v: /data must come before /data/sub", dsts)
			}
			if m := findMount(s, "/data/sub"); !slices.Equal(m.Options, []string{"rbind", "ro", "rprivate"}) || m.Type != "bind" {
				t.Errorf("bind = %+v", m)
			}
			if m := findMount(s, "/dev/shm"); !slices.Contains(m.Options, "size=1048576") || !slices.Contains(m.Options, "noexec") {
				t.Errorf("tmpfs = %+v", m)
			}
			if s.Linux.RootfsPropagation != "rslave" || !s.Root.Readonly || s.Process.Cwd != "/data/x" {
				t.Errorf("propagation %q readonly %v cwd %q", s.Linux.RootfsPropagation, s.Root.Readonly, s.Process.Cwd)
			}
			if s.Annotations["a"] != "b" {
				t.Errorf("annotations = %v", s.Annotations)
			}
		}},
		{"cap drop all add one", func(o *Options, h *host) {
			o.CapDrop = []string{"all"}
			o.CapAdd = []string{"net_bind_service"}
		}, func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Capabilities.Effective, []string{"CAP_NET_BIND_SERVICE"}) {
				t.Errorf("caps = %v", s.Process.Capabilities.Effective)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, h := baseOptions(t), fakeHost()
			tt.edit(&o, h)
			tt.check(t, mustGenerate(t, o, h))
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Options, *host)
		wantMsg string
		notArg  bool // the error is not an ErrInvalidArgument
	}{
		{"no id", func(o *Options, h *host) { o.ID = "" }, "container ID is empty", false},
		{"bad id", func(o *Options, h *host) { o.ID = "../x" }, "container ID", false},
		{"relative rootfs", func(o *Options, h *host) { o.Rootfs = "rootfs" }, "absolute", false},
		{"missing rootfs", func(o *Options, h *host) { o.Rootfs = "/nonexistent-rootfs" }, "no such file", true},
		{"no command", func(o *Options, h *host) { o.Args = nil }, "no command specified", false},
		{"relative cwd", func(o *Options, h *host) { o.Cwd = "work" }, "needs to be an absolute path", false},
		{"unknown user", func(o *Options, h *host) { o.User = "foo" }, "unable to find user foo: no matching entries in passwd file", false},
		{"unknown group", func(o *Options, h *host) { o.User = "app:nogroup" }, "unable to find group nogroup", false},
		{"bad env", func(o *Options, h *host) { o.Env = []string{"NOEQUALS"} }, "want KEY=VALUE", false},
		{"bind source missing", func(o *Options, h *host) {
			o.Mounts = []Mount{{Type: MountBind, Source: "/nonexistent-src", Destination: "/x"}}
		}, "bind source path does not exist: /nonexistent-src", false},
		{"duplicate mount", func(o *Options, h *host) {
			o.Mounts = []Mount{{Type: MountTmpfs, Destination: "/x"}, {Type: MountTmpfs, Destination: "/x/"}}
		}, "duplicate mount point: /x", false},
		{"mount on root", func(o *Options, h *host) { o.Mounts = []Mount{{Type: MountTmpfs, Destination: "/"}} }, "root", false},
		{"bad tmpfs option", func(o *Options, h *host) {
			o.Mounts = []Mount{{Type: MountTmpfs, Destination: "/x", Options: []string{"bogus"}}}
		}, "unknown tmpfs option", false},
		{"bad mount type", func(o *Options, h *host) { o.Mounts = []Mount{{Type: "volume", Destination: "/x"}} }, "unsupported type", false},
		{"host sysctl", func(o *Options, h *host) { o.Sysctls = map[string]string{"vm.swappiness": "1"} }, "not namespaced", false},
		{"net sysctl with host network", func(o *Options, h *host) {
			o.Network = NetworkHost
			o.Sysctls = map[string]string{"net.core.somaxconn": "1"}
		}, "host's network namespace", false},
		{"ipc sysctl with host ipc", func(o *Options, h *host) {
			o.IPCNamespace = "host"
			o.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, "host's IPC namespace", false},
		{"relative pid namespace", func(o *Options, h *host) { o.PIDNamespace = "proc/1/ns/pid" }, "must be absolute", false},
		{"unknown added group", func(o *Options, h *host) { o.GroupAdd = []string{"nosuchgroup"} }, "nosuchgroup", false},
		{"bad propagation", func(o *Options, h *host) {
			o.Mounts = []Mount{{Type: MountBind, Source: "/", Destination: "/x", Propagation: "weird"}}
		}, "invalid propagation", false},
		{"ulimit above host", func(o *Options, h *host) { o.Ulimits = []Ulimit{{Name: "nofile", Soft: 1024, Hard: 30000}} }, "above the host's limit 20000", false},
		{"ulimit soft above hard", func(o *Options, h *host) { o.Ulimits = []Ulimit{{Name: "nofile", Soft: 2, Hard: 1}} }, "soft limit", false},
		{"ulimit unknown", func(o *Options, h *host) { o.Ulimits = []Ulimit{{Name: "bogus"}} }, "unknown resource", false},
		{"cap unknown", func(o *Options, h *host) { o.CapAdd = []string{"FLY"} }, "unknown capability", false},
		{"cap not on host", func(o *Options, h *host) { o.CapAdd = []string{"sys_resource"} }, "not in the bounding set", false},
		{"too many cpus", func(o *Options, h *host) { o.Resources.CPUs = 8 }, "0.01 to 4.00", false},
		{"tiny memory", func(o *Options, h *host) { o.Resources.Memory = 1 << 20 }, "minimum is 6MB", false},
		{"swap without memory", func(o *Options, h *host) { o.Resources.MemorySwap = 1 << 30 }, "needs a memory limit", false},
		{"swap below memory", func(o *Options, h *host) { o.Resources = Resources{Memory: 1 << 30, MemorySwap: 1 << 29} }, "at least the memory limit", false},
		{"bad shares", func(o *Options, h *host) { o.Resources.CPUShares = 1 }, "cpu-shares", false},
		{"bad pids", func(o *Options, h *host) { o.Resources.PidsLimit = -2 }, "pids-limit", false},
		{"negative shm", func(o *Options, h *host) { o.ShmSize = -1 }, "shm-size", false},
		{"bad network", func(o *Options, h *host) { o.Network = "bridge" }, "network mode", false},
		{"missing netns", func(o *Options, h *host) { o.Network = "/nonexistent-netns" }, "does not exist", false},
		{"bad cgroups path", func(o *Options, h *host) { o.CgroupsPath = "drover/x" }, "cgroups path", false},
		{"bad hostname", func(o *Options, h *host) { o.Hostname = "a b" }, "hostname", false},
		{"missing init", func(o *Options, h *host) { o.InitPath = "/nonexistent-init" }, "init binary", true},
		{"custom without profile", func(o *Options, h *host) { o.Seccomp.Mode = SeccompCustom }, "without a profile", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, h := baseOptions(t), fakeHost()
			tt.edit(&o, h)
			_, err := generate(o, h)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			if !tt.notArg && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %q is not ErrInvalidArgument", err)
			}
		})
	}
}

// TestResolveUserStaysInRootfs points the image's /etc/passwd at a host file through an
// absolute symlink; it must resolve inside the rootfs, where it does not exist.
func TestResolveUserStaysInRootfs(t *testing.T) {
	root := t.TempDir()
	host := t.TempDir()
	writeFile(t, filepath.Join(host, "passwd"), "evil:x:0:0::/:/bin/sh\n")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(host, "passwd"), filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveUser(root, "evil"); err == nil || !strings.Contains(err.Error(), "unable to find user evil") {
		t.Fatalf("resolveUser followed a symlink out of the rootfs: %v", err)
	}
	// The same symlink, relative and climbing, is clamped to the rootfs as well.
	if err := os.Remove(filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../.."+filepath.Join(host, "passwd"), filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveUser(root, "evil"); err == nil {
		t.Fatal("resolveUser followed a relative symlink out of the rootfs")
	}
	// A numeric user needs no passwd file.
	u, err := resolveUser(root, "5:6")
	if err != nil || u.UID != 5 || u.GID != 6 {
		t.Fatalf("numeric user = %+v, %v", u, err)
	}
}

func TestGenerateRealHost(t *testing.T) {
	// The real probe must work on this machine and produce a spec runc would accept.
	s, err := Generate(baseOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Process.Rlimits[0].Type != "RLIMIT_NOFILE" {
		t.Errorf("rlimits = %+v", s.Process.Rlimits)
	}
}

func findMount(s *specs.Spec, dst string) specs.Mount {
	for _, m := range s.Mounts {
		if m.Destination == dst {
			return m
		}
	}
	return specs.Mount{}
}

func specHasNamespace(s *specs.Spec, typ specs.LinuxNamespaceType, path string) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == typ && ns.Path == path {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
