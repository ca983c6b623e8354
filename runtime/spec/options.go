package spec

// Options is everything Generate needs to know about one container. The caller has already
// merged the image config with the user's flags (entrypoint+cmd into Args, image env plus
// user env into Env).
type Options struct {
	// ID is the container ID; it names the default cgroup and the default hostname.
	ID string
	// Rootfs is the absolute host path of the container's mounted root filesystem.
	Rootfs string
	// ReadonlyRootfs mounts the root filesystem read-only (--read-only).
	ReadonlyRootfs bool
	// Args is the final argv of the container's first process.
	Args []string
	// Env is the final environment (KEY=VALUE). Generate adds PATH when missing, HOSTNAME,
	// HOME from the user's passwd entry when missing, and TERM=xterm with Terminal.
	Env []string
	// Cwd is the working directory inside the container; "/" when empty.
	Cwd string
	// User is "", "uid", "uid:gid", "name" or "name:group", resolved against the rootfs's
	// /etc/passwd and /etc/group.
	User string
	// Hostname defaults to the first 12 characters of ID, or the host's name with host
	// networking.
	Hostname string
	// Terminal allocates a pseudo-terminal for the process.
	Terminal bool
	// Mounts are the user's bind and tmpfs mounts, applied after the standard ones; a user
	// mount on the destination of a standard mount (say /dev/shm) replaces it.
	Mounts []Mount
	// Resources are the cgroup limits.
	Resources Resources
	// OOMScoreAdj is the process's oom_score_adj (-1000 to 1000); 0 inherits the caller's.
	OOMScoreAdj int
	// Ulimits override the default rlimits; none may exceed the host's hard limit.
	Ulimits []Ulimit
	// CapAdd and CapDrop adjust the default capability set. Names are case-insensitive,
	// with or without the CAP_ prefix; "ALL" means every capability.
	CapAdd, CapDrop []string
	// Privileged grants every capability the host has, all devices in the device cgroup,
	// a writable /sys and no masked or read-only paths, and turns the default seccomp
	// profile off. Host device nodes are NOT copied into the container's /dev.
	Privileged bool
	// NoNewPrivileges sets the no_new_privs bit on the container's process.
	NoNewPrivileges bool
	// Seccomp picks the seccomp profile.
	Seccomp Seccomp
	// CompatABI keeps the host's 32-bit compat ABI (x86 on amd64, arm on arm64) in the
	// default seccomp profile: set for images built for it (architecture 386 or arm).
	// Without it the default profile covers the native ABI only.
	CompatABI bool
	// CgroupsPath is the container's cgroup path for the cgroupfs driver; "/drover/<ID>"
	// when empty.
	CgroupsPath string
	// Network picks the network namespace.
	Network NetworkMode
	// IPCNamespace and UTSNamespace, when set, are namespace files (e.g. /proc/PID/ns/ipc
	// of a pod's infra process) to join instead of making new ones. With a joined UTS
	// namespace the hostname is the namespace's own and Hostname is ignored.
	// IPCNamespace may also be "host": the host's IPC namespace is shared.
	IPCNamespace, UTSNamespace string
	// PIDNamespace is "" for a PID namespace of the container's own, "host" to share the
	// host's, or a namespace file to join (a pod's shared PID namespace).
	PIDNamespace string
	// Sysctls are namespaced kernel parameters set in the container's namespaces, over
	// the defaults of its network namespace.
	Sysctls map[string]string
	// GroupAdd are more groups (names from the image's /etc/group, or numbers) the
	// process is a member of, besides its user's own.
	GroupAdd []string
	// GroupsPolicy is how the process's supplementary groups are made, as the CRI's
	// SupplementalGroupsPolicy: "" (Docker's: the user's groups in the image's
	// /etc/group, plus GroupAdd), "merge" (the same and the primary group) or "strict"
	// (the primary group and GroupAdd only, whatever the image's /etc/group says).
	GroupsPolicy string
	// MaskedPaths and ReadonlyPaths, when not nil, replace the default lists (an empty
	// list: nothing masked or read-only), as the CRI's security context can ask.
	MaskedPaths, ReadonlyPaths []string
	// InitPath, when set, is a host binary (a tini-like init) bind-mounted read-only at
	// InitDestination and run as the container's first process, with Args after "--".
	InitPath string
	// ShmSize is the size of /dev/shm in bytes; 64 MiB when zero.
	ShmSize int64
	// Labels become the spec's annotations.
	Labels map[string]string
}

// MountType is the kind of a user mount.
type MountType string

const (
	// MountBind bind-mounts a host path.
	MountBind MountType = "bind"
	// MountTmpfs mounts a fresh tmpfs.
	MountTmpfs MountType = "tmpfs"
)

// Mount is one user mount (--volume, --mount, --tmpfs).
type Mount struct {
	Type MountType
	// Source is the absolute host path of a bind mount; unused for tmpfs.
	Source string
	// Destination is the absolute path inside the container.
	Destination string
	// ReadOnly mounts it read-only.
	ReadOnly bool
	// Propagation of a bind mount: "", "private", "rprivate", "shared", "rshared",
	// "slave" or "rslave". Empty means rprivate.
	Propagation string
	// Options are extra mount options; for tmpfs those ParseTmpfs accepts (size=, mode=...).
	Options []string
}

// Resources are a container's cgroup limits. Zero values mean "not set".
type Resources struct {
	// Memory is the memory limit in bytes.
	Memory int64
	// MemorySwap is the limit of memory plus swap in bytes; -1 is unlimited swap. When
	// Memory is set and MemorySwap is not, it defaults to twice Memory (as Docker does)
	// where the kernel accounts swap.
	MemorySwap int64
	// CPUs is the number of CPUs worth of time the container may use (1.5 = 150 ms per
	// 100 ms period).
	CPUs float64
	// CPUShares is the relative CPU weight (1024 is the default weight).
	CPUShares uint64
	// PidsLimit caps the number of processes; -1 is unlimited.
	PidsLimit int64
	// CpusetCpus and CpusetMems pin the container to CPUs and memory nodes ("0-2,4").
	CpusetCpus, CpusetMems string
}

// Ulimit is one rlimit. Name is the lowercase resource name without RLIMIT_ ("nofile").
type Ulimit struct {
	Name string
	Soft uint64
	Hard uint64
}

// RlimInfinity is the value of an unlimited rlimit.
const RlimInfinity = ^uint64(0)

// SeccompMode chooses how the container's syscalls are filtered.
type SeccompMode int

const (
	// SeccompDefault applies drover's built-in profile (none with Privileged).
	SeccompDefault SeccompMode = iota
	// SeccompUnconfined applies no filter.
	SeccompUnconfined
	// SeccompCustom applies Seccomp.Profile, even with Privileged.
	SeccompCustom
)

// Seccomp is the seccomp choice of a container.
type Seccomp struct {
	Mode SeccompMode
	// Profile is the parsed custom profile (see ParseSeccompProfile) for SeccompCustom.
	Profile *SeccompProfile
}

// NetworkMode picks the container's network namespace: NetworkNone (the default) gives a
// new namespace with only loopback, NetworkHost shares the host's, and an absolute path
// joins the namespace bound there (e.g. /run/netns/x).
type NetworkMode string

const (
	NetworkNone NetworkMode = "none"
	NetworkHost NetworkMode = "host"
)

// InitDestination is where Options.InitPath is mounted inside the container.
const InitDestination = "/.drover-init"

// DefaultPath is the PATH a container gets when its environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultShmSize is the size of /dev/shm when Options.ShmSize is zero.
const DefaultShmSize = 64 << 20
