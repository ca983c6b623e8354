// Package api holds the wire types of drover's HTTP/JSON API. Paths are versioned
// (/v1/...). No logic lives here.
package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/drover/drover/internal/errdefs"
)

// Version is the API path prefix.
const Version = "v1"

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/drover/drover.sock"

// UpgradeProto names the framed stream (internal/stream) that hijacked connections speak
// after "101 Switching Protocols".
const UpgradeProto = "drover-stream"

// ContainerIDHeader names the container in the answer to a stream request; it is how
// POST /containers?start=1 (create, start and attach in one request) tells the ID.
const ContainerIDHeader = "Drover-Container-Id"

// Error is the body of every non-2xx response.
type Error struct {
	Message string `json:"message"`
}

// ContainerConfig is what a user asks for when creating a container.
type ContainerConfig struct {
	Name  string `json:"Name,omitempty"`
	Image string `json:"Image"`
	// Entrypoint nil keeps the image's; an empty list clears it.
	Entrypoint []string `json:"Entrypoint"`
	// Cmd nil keeps the image's.
	Cmd         []string          `json:"Cmd"`
	Env         []string          `json:"Env,omitempty"`
	WorkingDir  string            `json:"WorkingDir,omitempty"`
	User        string            `json:"User,omitempty"`
	Hostname    string            `json:"Hostname,omitempty"`
	Labels      map[string]string `json:"Labels,omitempty"`
	Tty         bool              `json:"Tty,omitempty"`
	OpenStdin   bool              `json:"OpenStdin,omitempty"`
	StdinOnce   bool              `json:"StdinOnce,omitempty"`
	StopSignal  string            `json:"StopSignal,omitempty"`
	StopTimeout *int              `json:"StopTimeout,omitempty"`
	Healthcheck *HealthConfig     `json:"Healthcheck,omitempty"`
	// ExposedPorts are "port/proto" keys, merged with the image's (what -P publishes).
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	// Networks holds per-network endpoint settings (--ip, --network-alias, --mac-address,
	// connect): the network of NetworkMode and every network connected later.
	Networks map[string]EndpointConfig `json:"Networks,omitempty"`
	Host     HostConfig                `json:"HostConfig"`
}

// EndpointConfig is what a user asks of one network attachment.
type EndpointConfig struct {
	IPAddress  string   `json:"IPAddress,omitempty"`
	MacAddress string   `json:"MacAddress,omitempty"`
	Aliases    []string `json:"Aliases,omitempty"`
}

// HostConfig is the part of a container's configuration that concerns the host.
type HostConfig struct {
	Binds          []string          `json:"Binds,omitempty"` // "src:dst[:ro|rw]"
	Tmpfs          map[string]string `json:"Tmpfs,omitempty"` // path -> options
	ReadonlyRootfs bool              `json:"ReadonlyRootfs,omitempty"`
	Memory         int64             `json:"Memory,omitempty"`
	MemorySwap     int64             `json:"MemorySwap,omitempty"`
	NanoCPUs       int64             `json:"NanoCpus,omitempty"`
	CPUShares      int64             `json:"CpuShares,omitempty"`
	PidsLimit      int64             `json:"PidsLimit,omitempty"`
	CpusetCpus     string            `json:"CpusetCpus,omitempty"` // "0-2,4"
	CpusetMems     string            `json:"CpusetMems,omitempty"`
	OomScoreAdj    int               `json:"OomScoreAdj,omitempty"`
	Ulimits        []Ulimit          `json:"Ulimits,omitempty"`
	CapAdd         []string          `json:"CapAdd,omitempty"`
	CapDrop        []string          `json:"CapDrop,omitempty"`
	SecurityOpt    []string          `json:"SecurityOpt,omitempty"`
	Privileged     bool              `json:"Privileged,omitempty"`
	RestartPolicy  RestartPolicy     `json:"RestartPolicy"`
	AutoRemove     bool              `json:"AutoRemove,omitempty"`
	Init           bool              `json:"Init,omitempty"`
	// NetworkMode is "bridge" (the default network), a network name or ID, "none",
	// "host", "container:NAME|ID" or NetworkCNI.
	NetworkMode string `json:"NetworkMode,omitempty"`
	// PortBindings are the published ports (-p, expanded: one entry per port).
	PortBindings []PortBinding `json:"PortBindings,omitempty"`
	// PublishAllPorts publishes every exposed port on a random host port (-P).
	PublishAllPorts bool     `json:"PublishAllPorts,omitempty"`
	DNS             []string `json:"Dns,omitempty"`
	DNSSearch       []string `json:"DnsSearch,omitempty"`
	DNSOptions      []string `json:"DnsOptions,omitempty"`
	// ExtraHosts are "name:ip" lines added to /etc/hosts (--add-host).
	ExtraHosts []string `json:"ExtraHosts,omitempty"`
	// Pod is the pod whose network, IPC and UTS namespaces the container joins.
	Pod string `json:"Pod,omitempty"`
	// PidMode is "" (a PID namespace of the container's own), "host", or
	// "container:NAME|ID" (share that running container's, as a pod's members may).
	PidMode string `json:"PidMode,omitempty"`
	// IpcMode is "" (the container's own, or its pod's) or "host".
	IpcMode string `json:"IpcMode,omitempty"`
	// Sysctls are namespaced kernel parameters (net.*, kernel IPC ones, fs.mqueue.*).
	Sysctls map[string]string `json:"Sysctls,omitempty"`
	// CgroupParent is the cgroup the container's cgroup is made in (absolute below the
	// hierarchy's root, e.g. /kubepods/pod1); the daemon's --cgroup-parent when empty.
	CgroupParent string `json:"CgroupParent,omitempty"`
	// GroupAdd are more groups the process is a member of (names or numbers).
	GroupAdd []string `json:"GroupAdd,omitempty"`
	// GroupsPolicy is "" (Docker's), "merge" or "strict": the CRI's supplemental groups
	// policy (runtime/spec.Options.GroupsPolicy).
	GroupsPolicy string `json:"GroupsPolicy,omitempty"`
	// MaskedPaths and ReadonlyPaths, when not nil, replace the default lists.
	MaskedPaths   []string `json:"MaskedPaths,omitempty"`
	ReadonlyPaths []string `json:"ReadonlyPaths,omitempty"`
	// CNIArgs are the CNI_ARGS the plugins get on the cni network mode (a CRI sandbox's
	// K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID).
	CNIArgs map[string]string `json:"CNIArgs,omitempty"`
	// Mounts are --mount and named-volume -v entries (binds stay in Binds).
	Mounts    []Mount   `json:"Mounts,omitempty"`
	Runtime   string    `json:"Runtime,omitempty"` // "" = daemon default
	LogConfig LogConfig `json:"LogConfig"`
	ShmSize   int64     `json:"ShmSize,omitempty"`
}

// PortBinding publishes one container port on the host.
type PortBinding struct {
	HostIP        string `json:"HostIp,omitempty"`
	HostPort      uint16 `json:"HostPort,omitempty"` // 0 = any free port
	ContainerPort uint16 `json:"ContainerPort"`
	Proto         string `json:"Proto,omitempty"` // tcp (default) or udp
}

// Mount is one --mount (or named volume -v) of a container.
type Mount struct {
	Type     string `json:"Type"` // volume, bind, tmpfs or image (an image's files, read-only)
	Source   string `json:"Source,omitempty"`
	Target   string `json:"Target"`
	ReadOnly bool   `json:"ReadOnly,omitempty"`
	// NoCopy skips seeding a new volume from the image (volume-nocopy).
	NoCopy bool `json:"NoCopy,omitempty"`
	// TmpfsSize and TmpfsMode are tmpfs options.
	TmpfsSize int64  `json:"TmpfsSize,omitempty"`
	TmpfsMode uint32 `json:"TmpfsMode,omitempty"`
	// Propagation of a bind mount.
	Propagation string `json:"Propagation,omitempty"`
	// SubPath is the directory of an image volume's image to mount ("" for all of it).
	SubPath string `json:"SubPath,omitempty"`
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// RestartPolicy is no, on-failure (with MaximumRetryCount), always or unless-stopped.
type RestartPolicy struct {
	Name              string `json:"Name,omitempty"`
	MaximumRetryCount int    `json:"MaximumRetryCount,omitempty"`
}

// LogConfig configures the json-file log (max-size, max-file).
type LogConfig struct {
	Type   string            `json:"Type,omitempty"`
	Config map[string]string `json:"Config,omitempty"`
}

// HealthConfig is a health check, from the image or --health-* flags.
type HealthConfig struct {
	// Test is ["NONE"], ["CMD", args...] or ["CMD-SHELL", command].
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// Container is what inspect and ps report.
type Container struct {
	ID           string          `json:"Id"`
	Name         string          `json:"Name"`
	Created      time.Time       `json:"Created"`
	Image        string          `json:"Image"`     // image ID
	ImageName    string          `json:"ImageName"` // as the user named it
	Path         string          `json:"Path"`
	Args         []string        `json:"Args"`
	Config       ContainerConfig `json:"Config"`
	State        ContainerState  `json:"State"`
	RestartCount int             `json:"RestartCount"`
	LogPath      string          `json:"LogPath"`
	Runtime      string          `json:"Runtime"`
	// NetworkSettings is the container's live networking (empty unless running).
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	// Mounts are the volumes and binds as they were mounted.
	Mounts []MountPoint `json:"Mounts,omitempty"`
	// GraphDriver is where the root filesystem's layers are (inspect only).
	GraphDriver *GraphDriver `json:"GraphDriver,omitempty"`
}

// GraphDriver names a container's storage driver and its directories (LowerDir,
// UpperDir, WorkDir, MergedDir for overlay), as Docker's inspect shows them.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// NetworkSettings is a running container's networking, as inspect shows it.
type NetworkSettings struct {
	SandboxKey string                      `json:"SandboxKey,omitempty"`
	Ports      []PortBinding               `json:"Ports,omitempty"`
	Networks   map[string]EndpointSettings `json:"Networks,omitempty"`
	// IPAddress and Gateway are those of the first network, for scripts written for Docker.
	IPAddress string `json:"IPAddress,omitempty"`
	Gateway   string `json:"Gateway,omitempty"`
}

// EndpointSettings is one live network attachment.
type EndpointSettings struct {
	NetworkID   string   `json:"NetworkID"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	Gateway     string   `json:"Gateway"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases,omitempty"`
}

// MountPoint is one mount of a container as inspect shows it.
type MountPoint struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	RW          bool   `json:"RW"`
}

// Container statuses.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusDead       = "dead"
	StatusRemoving   = "removing"
)

// ContainerState is the life of a container as the daemon knows it.
type ContainerState struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	Health     *Health   `json:"Health,omitempty"`
}

// Health states.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is the state of a container's health check.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one run of a health check.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// CreateResponse answers a create.
type CreateResponse struct {
	ID       string   `json:"Id"`
	Warnings []string `json:"Warnings,omitempty"`
}

// WaitResponse answers a wait.
type WaitResponse struct {
	StatusCode int    `json:"StatusCode"`
	Error      string `json:"Error,omitempty"`
}

// ExecConfig describes a process to run in a running container.
type ExecConfig struct {
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env,omitempty"`
	User       string   `json:"User,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	Tty        bool     `json:"Tty,omitempty"`
	Stdin      bool     `json:"AttachStdin,omitempty"`
	Privileged bool     `json:"Privileged,omitempty"`
	// Detach runs the process in the background with its output discarded; the stream
	// then ends at once with exit code 0.
	Detach bool   `json:"Detach,omitempty"`
	Width  uint16 `json:"Width,omitempty"`
	Height uint16 `json:"Height,omitempty"`
}

// TopResponse lists a container's processes as ps shows them.
type TopResponse struct {
	Titles    []string   `json:"Titles"`
	Processes [][]string `json:"Processes"`
}

// Stats is one sample of a container's resource use.
type Stats struct {
	ID          string    `json:"Id"`
	Name        string    `json:"Name"`
	Read        time.Time `json:"Read"`
	CPUUsageNs  uint64    `json:"CpuUsageNs"`  // total CPU time used
	SystemNs    uint64    `json:"SystemNs"`    // host CPU time at Read, for percentages
	OnlineCPUs  int       `json:"OnlineCpus"`  //
	MemoryUsage uint64    `json:"MemoryUsage"` // bytes, page cache excluded
	MemoryLimit uint64    `json:"MemoryLimit"`
	Pids        uint64    `json:"Pids"`
	BlockRead   uint64    `json:"BlockRead"`  // bytes read from block devices
	BlockWrite  uint64    `json:"BlockWrite"` // bytes written to block devices
	// Networks are the counters of each interface of the container's network namespace
	// (loopback left out); none for a container on the host's network.
	Networks map[string]NetworkStats `json:"Networks,omitempty"`
}

// NetworkStats are one interface's counters since it was made.
type NetworkStats struct {
	RxBytes   uint64 `json:"RxBytes"`
	RxPackets uint64 `json:"RxPackets"`
	RxErrors  uint64 `json:"RxErrors"`
	RxDropped uint64 `json:"RxDropped"`
	TxBytes   uint64 `json:"TxBytes"`
	TxPackets uint64 `json:"TxPackets"`
	TxErrors  uint64 `json:"TxErrors"`
	TxDropped uint64 `json:"TxDropped"`
}

// PruneFilter narrows a prune, as Docker's prune filters do: to what was created before
// Until, carries every label of Labels and none of NotLabels.
type PruneFilter struct {
	Until     time.Time `json:"Until,omitempty"`     // zero: whenever
	Labels    []string  `json:"Labels,omitempty"`    // "key" or "key=value"
	NotLabels []string  `json:"NotLabels,omitempty"` // "key" or "key=value"
}

// Match reports whether an object with labels, created at created, is to be pruned.
func (f PruneFilter) Match(labels map[string]string, created time.Time) bool {
	if !f.Until.IsZero() && !created.Before(f.Until) {
		return false
	}
	has := func(l string) bool {
		k, v, withValue := strings.Cut(l, "=")
		got, ok := labels[k]
		return ok && (!withValue || got == v)
	}
	for _, l := range f.Labels {
		if !has(l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if has(l) {
			return false
		}
	}
	return true
}

// PruneResponse answers a prune.
type PruneResponse struct {
	Deleted        []string `json:"Deleted"`
	SpaceReclaimed int64    `json:"SpaceReclaimed"`
}

// Image is what images and image inspect report.
type Image struct {
	ID          string            `json:"Id"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Created     time.Time         `json:"Created"`
	Size        int64             `json:"Size"`
	Config      ImageConfig       `json:"Config"`
	Layers      []string          `json:"Layers"` // diff IDs
	Labels      map[string]string `json:"Labels,omitempty"`
	Os          string            `json:"Os"`
	Arch        string            `json:"Architecture"`
	// Author is the image config's; Comment is its last history entry's (a commit's
	// message, an import's).
	Author  string `json:"Author,omitempty"`
	Comment string `json:"Comment,omitempty"`
}

// ImageConfig is the runtime part of an image's configuration.
type ImageConfig struct {
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	Env          []string            `json:"Env"`
	WorkingDir   string              `json:"WorkingDir"`
	User         string              `json:"User"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
}

// ImageDeleteItem reports one effect of rmi.
type ImageDeleteItem struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// Info describes the daemon.
type Info struct {
	Version        string `json:"Version"`
	Root           string `json:"Root"`
	ExecRoot       string `json:"ExecRoot"`
	DefaultRuntime string `json:"DefaultRuntime"`
	CgroupVersion  string `json:"CgroupVersion"`
	CgroupParent   string `json:"CgroupParent"`
	Containers     int    `json:"Containers"`
	Running        int    `json:"ContainersRunning"`
	Images         int    `json:"Images"`
	Pid            int    `json:"Pid"`
}

// Progress is one line of the JSON-lines stream that pull and push answer with, as
// Docker's: per-layer lines carry ID (the short layer digest) and a Status such as
// "Waiting", "Downloading", "Verifying Checksum", "Download complete", "Extracting",
// "Pull complete", "Already exists", "Preparing", "Pushing", "Pushed", "Layer already
// exists", with Current/Total bytes while data moves; lines without ID are messages for
// the whole operation ("Digest: sha256:...", "Status: Downloaded newer image for ...").
// A line with Error ends the stream in failure.
type Progress struct {
	ID      string `json:"id,omitempty"`
	Status  string `json:"status,omitempty"`
	Current int64  `json:"current,omitempty"`
	Total   int64  `json:"total,omitempty"`
	Error   string `json:"error,omitempty"`
}

// AuthConfig carries a user's registry credentials from the CLI to the daemon, in the
// X-Registry-Auth header as base64url JSON (as Docker's).
type AuthConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
	ServerAddress string `json:"serveraddress,omitempty"`
}

// LoginResult answers a successful login.
type LoginResult struct {
	Status string `json:"Status"`
}

// DiskUsage answers `system df`.
type DiskUsage struct {
	// LayersSize is the bytes of all unpacked image layers, shared ones counted once.
	LayersSize int64            `json:"LayersSize"`
	Images     []ImageUsage     `json:"Images"`
	Containers []ContainerUsage `json:"Containers"`
	Volumes    []VolumeUsage    `json:"Volumes"`
}

// ImageUsage is one image's share of the disk.
type ImageUsage struct {
	ID         string   `json:"Id"`
	RepoTags   []string `json:"RepoTags"`
	Created    int64    `json:"Created"`
	Size       int64    `json:"Size"`
	SharedSize int64    `json:"SharedSize"`
	UniqueSize int64    `json:"UniqueSize"`
	Containers int      `json:"Containers"`
}

// ContainerUsage is one container's writable layer.
type ContainerUsage struct {
	ID     string `json:"Id"`
	Name   string `json:"Name"`
	Image  string `json:"Image"`
	State  string `json:"State"`
	SizeRw int64  `json:"SizeRw"`
}

// VolumeUsage is one volume's size and users.
type VolumeUsage struct {
	Name     string `json:"Name"`
	Size     int64  `json:"Size"`
	RefCount int    `json:"RefCount"`
}

// ImagePruneReport answers `image prune`.
type ImagePruneReport struct {
	ImagesDeleted  []ImageDeleteItem `json:"ImagesDeleted"`
	SpaceReclaimed int64             `json:"SpaceReclaimed"`
}

// HistoryItem is one step of `image history`.
type HistoryItem struct {
	ID        string `json:"Id"`
	Created   string `json:"Created"`
	CreatedBy string `json:"CreatedBy"`
	Size      int64  `json:"Size"`
	Comment   string `json:"Comment"`
}

// CheckProblem is one inconsistency `system check` found.
type CheckProblem struct {
	Object   string `json:"Object"`
	Message  string `json:"Message"`
	Repaired bool   `json:"Repaired"`
}

// NetworkCreate asks for a user network.
type NetworkCreate struct {
	Name     string `json:"Name"`
	Subnet   string `json:"Subnet,omitempty"`
	Gateway  string `json:"Gateway,omitempty"`
	Internal bool   `json:"Internal,omitempty"`
	// NonMasquerade are IPv4 CIDRs the network's traffic reaches with its own source
	// addresses (routed, not masqueraded).
	NonMasquerade []string          `json:"NonMasquerade,omitempty"`
	Labels        map[string]string `json:"Labels,omitempty"`
}

// Network is what network ls and inspect report.
type Network struct {
	ID            string                      `json:"Id"`
	Name          string                      `json:"Name"`
	Driver        string                      `json:"Driver"`
	Subnet        string                      `json:"Subnet"`
	Gateway       string                      `json:"Gateway"`
	Bridge        string                      `json:"Bridge"`
	Internal      bool                        `json:"Internal"`
	NonMasquerade []string                    `json:"NonMasquerade,omitempty"`
	Labels        map[string]string           `json:"Labels,omitempty"`
	Created       time.Time                   `json:"Created"`
	Containers    map[string]NetworkContainer `json:"Containers"`
}

// NetworkContainer is one container attached to a network.
type NetworkContainer struct {
	Name       string `json:"Name"`
	IPv4       string `json:"IPv4Address"`
	MacAddress string `json:"MacAddress"`
}

// NetworkConnect attaches a container to a network (or detaches it).
type NetworkConnect struct {
	Container string         `json:"Container"`
	Endpoint  EndpointConfig `json:"EndpointConfig"`
	Force     bool           `json:"Force,omitempty"`
}

// Volume is what volume ls and inspect report.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Options    map[string]string `json:"Options"`
	Anonymous  bool              `json:"Anonymous,omitempty"`
	// RefCount is how many containers use it.
	RefCount int `json:"RefCount"`
}

// VolumeCreate asks for a volume.
type VolumeCreate struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver,omitempty"`
	DriverOpts map[string]string `json:"DriverOpts,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// NetworkCNI is the network mode whose namespace drover makes and the CNI configuration
// of the daemon (--cni-conf-dir) sets up: what a CRI sandbox gets when one is present.
const NetworkCNI = "cni"

// PodCreate asks for a pod.
type PodCreate struct {
	Name         string            `json:"Name,omitempty"`
	Hostname     string            `json:"Hostname,omitempty"`
	Network      string            `json:"Network,omitempty"`
	PortBindings []PortBinding     `json:"PortBindings,omitempty"`
	Labels       map[string]string `json:"Labels,omitempty"`
	// DNS, DNSSearch and DNSOptions make the pod's resolv.conf, as for a container.
	DNS        []string `json:"Dns,omitempty"`
	DNSSearch  []string `json:"DnsSearch,omitempty"`
	DNSOptions []string `json:"DnsOptions,omitempty"`
	// Sysctls are set in the pod's namespaces (net.*, kernel IPC ones, fs.mqueue.*).
	Sysctls map[string]string `json:"Sysctls,omitempty"`
	// CgroupParent is where the cgroups of the pod's infra process and members go.
	CgroupParent string `json:"CgroupParent,omitempty"`
	// PidMode and IpcMode "host" put the pod's infra process, and with it the members
	// that share its namespaces, in the host's PID or IPC namespace.
	PidMode string `json:"PidMode,omitempty"`
	IpcMode string `json:"IpcMode,omitempty"`
	// SharePID gives the pod one PID namespace, which its containers join with PidMode
	// "container:INFRA": the pod then keeps a pause process as that namespace's PID 1.
	// Without it the pod's namespaces are files and no process runs for the pod itself.
	SharePID bool `json:"SharePid,omitempty"`
	// CNIArgs go to the CNI plugins as CNI_ARGS when Network is NetworkCNI.
	CNIArgs map[string]string `json:"CNIArgs,omitempty"`
}

// Pod is what pod ls and inspect report.
type Pod struct {
	ID         string            `json:"Id"`
	Name       string            `json:"Name"`
	Created    time.Time         `json:"Created"`
	Status     string            `json:"Status"` // Running, Exited, Created, Degraded
	InfraID    string            `json:"InfraContainerId"`
	Labels     map[string]string `json:"Labels,omitempty"`
	Containers []PodContainer    `json:"Containers"`
	// SharedNamespaces are the namespaces the pod's containers share, as podman names
	// them: net, ipc (unless the host's), uts, and pid when the pod keeps a pause process.
	SharedNamespaces []string `json:"SharedNamespaces"`
}

// PodContainer is one member of a pod.
type PodContainer struct {
	ID     string `json:"Id"`
	Name   string `json:"Name"`
	Status string `json:"Status"`
}

// BuildMessage is one line of the JSON-lines stream POST /build answers with: progress
// text (steps, their times, cache hits, RUN output) in Stream; the last line carries
// the image ID in ID, or Error when the build failed.
type BuildMessage struct {
	Stream string `json:"stream,omitempty"`
	ID     string `json:"id,omitempty"`
	Error  string `json:"error,omitempty"`
}

// BuildCachePruneReport answers POST /build/prune.
type BuildCachePruneReport struct {
	StepsDeleted   int   `json:"StepsDeleted"`
	SpaceReclaimed int64 `json:"SpaceReclaimed"`
}

// DockerfileHeader carries the Dockerfile (base64) of POST /build beside the context.
const DockerfileHeader = "X-Drover-Dockerfile"

// ContextSizeHeader announces the bytes of file content in the context of POST /build.
const ContextSizeHeader = "X-Drover-Context-Size"

// CommitRequest asks for an image of a container's changes (docker commit).
type CommitRequest struct {
	// Ref names the image (REPOSITORY[:TAG]); empty leaves it unnamed.
	Ref     string   `json:"Ref,omitempty"`
	Author  string   `json:"Author,omitempty"`
	Comment string   `json:"Comment,omitempty"`
	Changes []string `json:"Changes,omitempty"` // Dockerfile instructions, as docker commit --change
	// NoPause commits a running container without freezing it first.
	NoPause bool `json:"NoPause,omitempty"`
}

// Change is one path a container changed in its root filesystem: Kind 0 modified, 1
// added, 2 deleted (the Docker API's numbers).
type Change struct {
	Path string `json:"Path"`
	Kind int    `json:"Kind"`
}

// ParseTime reads a since/until value: RFC 3339, Unix seconds (with fraction) or a
// duration before now.
func ParseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	sec, frac, hasFrac := strings.Cut(v, ".")
	if s, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var ns int64
		if hasFrac {
			frac = (frac + "000000000")[:9]
			if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
				return time.Time{}, fmt.Errorf("invalid time %q: %w", v, errdefs.ErrInvalidArgument)
			}
		}
		return time.Unix(s, ns), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339, Unix seconds or a duration such as 10m: %w", v, errdefs.ErrInvalidArgument)
}

// ParsePruneFilter reads prune filters given as KEY=VALUE (the CLI's --filter): until,
// label and label!, as Docker's prune commands take them.
func ParsePruneFilter(kvs []string, now time.Time) (PruneFilter, error) {
	var f PruneFilter
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return f, fmt.Errorf("bad format of filter %q (expected name=value): %w", kv, errdefs.ErrInvalidArgument)
		case k == "until":
			t, err := ParseTime(v, now)
			if err != nil {
				return f, err
			}
			if f.Until.IsZero() || t.Before(f.Until) {
				f.Until = t
			}
		case k == "label":
			f.Labels = append(f.Labels, v)
		case k == "label!":
			f.NotLabels = append(f.NotLabels, v)
		default:
			return f, fmt.Errorf("invalid filter '%s': prunes take until, label and label!: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	return f, nil
}
