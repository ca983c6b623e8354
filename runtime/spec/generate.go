package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

// maskedPaths hide kernel information and interfaces a container has no business with; the
// runtime bind-mounts /dev/null (files) or an empty read-only tmpfs (directories) over them.
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// readonlyPaths are /proc entries that would change the host's kernel if written.
var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// Generate builds the OCI runtime spec for o. It reads the rootfs (to resolve the user)
// and the host (cgroup version, capability bounding set, rlimits), and checks everything
// the runtime would otherwise reject late or obscurely; errors a user can fix wrap
// errdefs.ErrInvalidArgument.
func Generate(o Options) (*specs.Spec, error) {
	h, err := probeHost()
	if err != nil {
		return nil, fmt.Errorf("probe host: %w", err)
	}
	return generate(o, h)
}

func generate(o Options, h *host) (*specs.Spec, error) {
	if err := checkID(o.ID); err != nil {
		return nil, err
	}
	if err := checkRootfs(o.Rootfs); err != nil {
		return nil, err
	}
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, fmt.Errorf("no command specified (the image has no entrypoint or cmd; give one after the image name): %w", errdefs.ErrInvalidArgument)
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is invalid: it needs to be an absolute path: %w", o.Cwd, errdefs.ErrInvalidArgument)
	}
	cwd = path.Clean(cwd)

	usr, err := resolveUser(o.Rootfs, o.User)
	if err != nil {
		return nil, err
	}
	switch o.GroupsPolicy {
	case "":
	case "merge":
		usr.AdditionalGIDs = append([]uint32{usr.GID}, usr.AdditionalGIDs...)
	case "strict":
		usr.AdditionalGIDs = []uint32{usr.GID}
	default:
		return nil, fmt.Errorf("supplemental groups policy %q: want merge or strict: %w", o.GroupsPolicy, errdefs.ErrInvalidArgument)
	}
	if usr.AdditionalGIDs, err = addGroups(o.Rootfs, usr.AdditionalGIDs, o.GroupAdd); err != nil {
		return nil, err
	}
	slices.Sort(usr.AdditionalGIDs)
	usr.AdditionalGIDs = slices.Compact(usr.AdditionalGIDs)

	hostname, err := containerHostname(o, h)
	if err != nil {
		return nil, err
	}
	env, err := buildEnv(o.Env, hostname, usr.Home, o.Terminal)
	if err != nil {
		return nil, err
	}

	caps, err := capabilities(o, h)
	if err != nil {
		return nil, err
	}
	rl, err := rlimits(o, h)
	if err != nil {
		return nil, err
	}

	args := append([]string(nil), o.Args...)
	user, rootProp, err := userMounts(o.Mounts)
	if err != nil {
		return nil, err
	}
	if o.InitPath != "" {
		initMount, err := initMount(o.InitPath)
		if err != nil {
			return nil, err
		}
		user = append(user, initMount)
		args = append([]string{InitDestination, "--"}, args...)
	}
	shm := o.ShmSize
	switch {
	case shm < 0:
		return nil, fmt.Errorf("shm-size %d: must not be negative: %w", shm, errdefs.ErrInvalidArgument)
	case shm == 0:
		shm = DefaultShmSize
	}

	namespaces, err := namespaces(o, h)
	if err != nil {
		return nil, err
	}
	resources, err := linuxResources(o.Resources, o.Privileged, h)
	if err != nil {
		return nil, err
	}
	seccomp, err := seccompFor(o, caps, h)
	if err != nil {
		return nil, err
	}
	cgroupsPath, err := cgroupsPath(o)
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: o.Terminal,
			User: specs.User{
				UID:            usr.UID,
				GID:            usr.GID,
				AdditionalGids: usr.AdditionalGIDs,
			},
			Args: args,
			Env:  env,
			Cwd:  cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: append([]string(nil), caps...),
				Permitted: append([]string(nil), caps...),
			},
			Rlimits:         rl,
			NoNewPrivileges: o.NoNewPrivileges,
			OOMScoreAdj:     oomScoreAdj(o.OOMScoreAdj),
		},
		Root:        &specs.Root{Path: o.Rootfs, Readonly: o.ReadonlyRootfs},
		Hostname:    hostnameIfOwn(o, hostname),
		Mounts:      mergeMounts(defaultMounts(o.Privileged, h.cgroup2, shm), user),
		Annotations: maps.Clone(o.Labels),
		Linux: &specs.Linux{
			Resources:         resources,
			CgroupsPath:       cgroupsPath,
			Namespaces:        namespaces,
			Seccomp:           seccomp,
			RootfsPropagation: rootProp,
		},
	}
	if hasNamespace(namespaces, specs.NetworkNamespace) {
		s.Linux.Sysctl = networkSysctls()
	}
	if len(o.Sysctls) > 0 {
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		for k, v := range o.Sysctls {
			if err := CheckSysctl(k, hasNamespace(namespaces, specs.NetworkNamespace), hasNamespace(namespaces, specs.IPCNamespace)); err != nil {
				return nil, err
			}
			s.Linux.Sysctl[k] = v
		}
	}
	if !o.Privileged {
		s.Linux.MaskedPaths = append([]string(nil), maskedPaths...)
		s.Linux.ReadonlyPaths = append([]string(nil), readonlyPaths...)
	}
	if o.MaskedPaths != nil {
		s.Linux.MaskedPaths = append([]string{}, o.MaskedPaths...)
	}
	if o.ReadonlyPaths != nil {
		s.Linux.ReadonlyPaths = append([]string{}, o.ReadonlyPaths...)
	}
	return s, nil
}

// checkID keeps the ID usable as a cgroup directory name and a hostname.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("container ID is empty: %w", errdefs.ErrInvalidArgument)
	}
	if len(id) > 128 {
		return fmt.Errorf("container ID %q is longer than 128 characters: %w", id, errdefs.ErrInvalidArgument)
	}
	for i, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			return fmt.Errorf("container ID %q: use letters, digits, '_', '.' and '-', starting with a letter or digit: %w", id, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func checkRootfs(rootfs string) error {
	if !path.IsAbs(rootfs) {
		return fmt.Errorf("rootfs %q: must be an absolute path: %w", rootfs, errdefs.ErrInvalidArgument)
	}
	st, err := os.Stat(rootfs)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("rootfs %s is not a directory: %w", rootfs, errdefs.ErrInvalidArgument)
	}
	return nil
}

// containerHostname is the user's choice, else the host's name with host networking (as
// Docker does), else the first 12 characters of the ID.
func containerHostname(o Options, h *host) (string, error) {
	name := o.Hostname
	if name == "" {
		if o.Network == NetworkHost && h.hostname != "" {
			return h.hostname, nil
		}
		name = o.ID
		if len(name) > 12 {
			name = name[:12]
		}
		return name, nil
	}
	if len(name) > 64 {
		return "", fmt.Errorf("hostname %q is longer than 64 characters: %w", name, errdefs.ErrInvalidArgument)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", fmt.Errorf("hostname %q: use letters, digits, '-', '.' and '_': %w", name, errdefs.ErrInvalidArgument)
		}
	}
	return name, nil
}

// hostnameIfOwn drops the hostname when the UTS namespace is joined: the runtime may only
// set it in a namespace of the container's own.
func hostnameIfOwn(o Options, hostname string) string {
	if o.UTSNamespace != "" {
		return ""
	}
	return hostname
}

// namespaces are Docker's: new pid, ipc, uts and mount namespaces, a network namespace
// unless the host's is shared or a prepared one is joined, and a cgroup namespace on
// cgroup v2, where it hides the host's hierarchy. On v1 the container shares the host's
// cgroup namespace (Docker's default there too) and sees its cgroups read-only.
func namespaces(o Options, h *host) ([]specs.LinuxNamespace, error) {
	mode := o.Network
	var ns []specs.LinuxNamespace
	// The PID and IPC namespaces are the container's own, joined, or the host's (none).
	for _, n := range []specs.LinuxNamespace{{Type: specs.PIDNamespace, Path: o.PIDNamespace}, {Type: specs.IPCNamespace, Path: o.IPCNamespace},
		{Type: specs.UTSNamespace, Path: o.UTSNamespace}, {Type: specs.MountNamespace}} {
		if n.Path != "host" {
			ns = append(ns, n)
		}
	}
	for _, p := range []string{o.IPCNamespace, o.UTSNamespace, o.PIDNamespace} {
		if p != "" && p != "host" && !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("namespace path %q must be absolute: %w", p, errdefs.ErrInvalidArgument)
		}
	}
	if o.UTSNamespace == "host" {
		return nil, fmt.Errorf("the UTS namespace cannot be the host's: %w", errdefs.ErrInvalidArgument)
	}
	switch {
	case mode == "" || mode == NetworkNone:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	case mode == NetworkHost:
	case strings.HasPrefix(string(mode), "/"):
		p := path.Clean(string(mode))
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("network namespace %s does not exist: %w", p, errdefs.ErrInvalidArgument)
			}
			return nil, fmt.Errorf("network namespace %s: %w", p, err)
		}
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p})
	default:
		return nil, fmt.Errorf("network mode %q: want none, host or a network namespace path: %w", mode, errdefs.ErrInvalidArgument)
	}
	if h.cgroup2 {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns, nil
}

// CheckSysctl refuses a sysctl the container's namespaces do not isolate: setting it
// would change the host (the kernel's namespaced sysctls: the kernel.* IPC ones, fs.mqueue.*
// and net.*, the latter only in a network namespace of the container's own or joined).
// net and ipc say whether the network and IPC namespaces are other than the host's.
func CheckSysctl(key string, net, ipc bool) error {
	ipcKeys := []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
	switch {
	case strings.HasPrefix(key, "fs.mqueue.") || slices.Contains(ipcKeys, key):
		if ipc {
			return nil
		}
		return fmt.Errorf("sysctl %s: the container shares the host's IPC namespace, so it would change the host: %w", key, errdefs.ErrInvalidArgument)
	case strings.HasPrefix(key, "net."):
		if net {
			return nil
		}
		return fmt.Errorf("sysctl %s: the container shares the host's network namespace, so it would change the host: %w", key, errdefs.ErrInvalidArgument)
	case key == "kernel.hostname" || key == "kernel.domainname":
		return nil
	}
	return fmt.Errorf("sysctl %s is not namespaced: it would change the host; only kernel IPC, fs.mqueue.* and net.* sysctls may be set: %w", key, errdefs.ErrInvalidArgument)
}

// networkSysctls are Docker's per-network-namespace defaults: any user may bind ports
// below 1024 and send ICMP echo through ping sockets. Both only affect the container's own
// namespace, so they need no privilege on the host, and they let non-root images run
// servers on port 80 and use ping without CAP_NET_RAW or CAP_NET_BIND_SERVICE.
func networkSysctls() map[string]string {
	return map[string]string{
		"net.ipv4.ip_unprivileged_port_start": "0",
		"net.ipv4.ping_group_range":           "0 2147483647",
	}
}

func hasNamespace(ns []specs.LinuxNamespace, typ specs.LinuxNamespaceType) bool {
	for _, n := range ns {
		if n.Type == typ {
			return true
		}
	}
	return false
}

// initMount bind-mounts the init binary read-only; nosuid and nodev cost nothing, but it
// must stay executable.
func initMount(p string) (specs.Mount, error) {
	if !path.IsAbs(p) {
		return specs.Mount{}, fmt.Errorf("init binary %q: must be an absolute path: %w", p, errdefs.ErrInvalidArgument)
	}
	st, err := os.Stat(p)
	if err != nil {
		return specs.Mount{}, fmt.Errorf("init binary: %w", err)
	}
	if !st.Mode().IsRegular() {
		return specs.Mount{}, fmt.Errorf("init binary %s is not a regular file: %w", p, errdefs.ErrInvalidArgument)
	}
	return specs.Mount{Destination: InitDestination, Type: "bind", Source: p,
		Options: []string{"bind", "ro", "nosuid", "nodev", "rprivate"}}, nil
}

// seccompFor picks the container's filter: the built-in profile unless privileged or
// unconfined; a custom profile always applies (the user asked for it explicitly).
func seccompFor(o Options, caps []string, h *host) (*specs.LinuxSeccomp, error) {
	switch o.Seccomp.Mode {
	case SeccompUnconfined:
		return nil, nil
	case SeccompCustom:
		if o.Seccomp.Profile == nil {
			return nil, fmt.Errorf("custom seccomp mode without a profile: %w", errdefs.ErrInvalidArgument)
		}
		return o.Seccomp.Profile.render(caps, runtime.GOARCH, h.kernel)
	case SeccompDefault:
		if o.Privileged {
			return nil, nil
		}
		p := DefaultSeccompProfile()
		if !o.CompatABI {
			// Only the image's own ABI: compiling the filter for the 32-bit compat ABI too
			// costs every container ~8 ms of start-up, and its syscalls are kernel attack
			// surface a 64-bit image does not need.
			for i := range p.ArchMap {
				p.ArchMap[i].SubArchitectures = nil
			}
		}
		return p.render(caps, runtime.GOARCH, h.kernel)
	default:
		return nil, fmt.Errorf("unknown seccomp mode %d: %w", o.Seccomp.Mode, errdefs.ErrInvalidArgument)
	}
}

// cgroupsPath is the cgroupfs-driver path, absolute so it does not depend on where the
// runtime itself runs.
func cgroupsPath(o Options) (string, error) {
	p := o.CgroupsPath
	if p == "" {
		return "/drover/" + o.ID, nil
	}
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return "", fmt.Errorf("cgroups path %q: want a clean absolute path like /drover/<id>: %w", p, errdefs.ErrInvalidArgument)
	}
	return p, nil
}
